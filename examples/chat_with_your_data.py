"""A dashboard with an assistant beside it: ask about the data on screen, or ask it to change the view.

    pip install -e '.[examples]'    # in a checkout of hybrid: what the examples import (pandas, FastAPI)
    uvicorn examples.chat_with_your_data:server --port 8050

then open http://127.0.0.1:8050.

The data is Gapminder's (life expectancy, GDP per capita and population by country, 1952-2007), as
Plotly ships it. The assistant reads the filters when you send (the Chat's `context`) and is told a
compact summary of the rows on screen. Its tools (`@assistant.tool`) answer from the data and change the
dashboard: `show_only` a continent and `show_year` move the filters (`context.set_props`; the figure
follows through its ordinary callback), `top_products` gives the countries with the largest gross
domestic product (GDP per capita times population), `describe_column` a column's statistics. Those two
take a continent and a year, else read the filters from the context, which follows the moves of earlier
rounds of the answer. The chat shows each call as a card. Try "Show only Europe and tell me the top
three products", or "Show only Asia in the year 1977 and tell me the top three products".

Without keys the demo model answers: it calls the tools whose names the question says (the results and
the filter changes are real, the prose is the demo's). With `OPENAI_API_KEY` and `HYBRID_MODEL` set (see
the docs' Providers page), a real model chooses the tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from pydantic import Field

import hybrid
from hybrid import ToolContext

DATA = px.data.gapminder()
YEARS = sorted(DATA["year"].unique().tolist())
CONTINENTS = sorted(DATA["continent"].unique().tolist())
ALL = "All continents"
Continent = Literal["All continents", "Africa", "Americas", "Asia", "Europe", "Oceania"]
"""What the continent filter may show (the model is offered exactly these)."""
COLUMNS = {"life expectancy": "lifeExp", "GDP per capita": "gdpPercap", "population": "pop"}
Column = Literal["life expectancy", "GDP per capita", "population"]


def rows(continent: str, year: int) -> pd.DataFrame:
    """The countries the dashboard shows for `continent` (or all of them) in `year`."""
    selected = DATA[DATA["year"] == year]
    return selected if continent == ALL else selected[selected["continent"] == continent]


def summary(continent: str, year: int) -> str:
    """What the model is told about the rows on screen: a few lines, not the whole table."""
    data = rows(continent, year)
    by_continent = data.groupby("continent").agg(
        countries=("country", "count"), population=("pop", "sum"), life=("lifeExp", "mean")
    )
    lines = [
        f"Gapminder data for {continent}, {year}: {len(data)} countries.",
        f"- Life expectancy: mean {data['lifeExp'].mean():.1f} years; lowest "
        f"{_extreme(data, 'lifeExp', 'idxmin')}, highest {_extreme(data, 'lifeExp', 'idxmax')}.",
        f"- GDP per capita: median {data['gdpPercap'].median():,.0f} USD; highest "
        f"{_extreme(data, 'gdpPercap', 'idxmax')}.",
        "- Most populous: " + ", ".join(data.nlargest(5, "pop")["country"]) + ".",
        *(
            f"- {name}: {int(row['countries'])} countries, {row['population'] / 1e6:,.0f} M people, "
            f"mean life expectancy {row['life']:.1f} years."
            for name, row in by_continent.iterrows()
        ),
    ]
    return "\n".join(lines)


def _extreme(data: pd.DataFrame, column: str, how: str) -> str:
    row = data.loc[getattr(data[column], how)()]
    return f"{row['country']} ({row[column]:,.1f})"


def figure(continent: str, year: int) -> go.Figure:
    fig = px.scatter(
        rows(continent, year),
        x="gdpPercap",
        y="lifeExp",
        size="pop",
        color="continent",
        hover_name="country",
        log_x=True,
        size_max=55,
        range_x=[200, 120_000],
        range_y=[20, 90],
        labels={"gdpPercap": "GDP per capita (USD)", "lifeExp": "Life expectancy (years)"},
        title=f"{continent}, {year}",
    )
    return fig.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40}, legend_title_text="")


app = Dash(__name__, title="Gapminder with an assistant")
assistant = hybrid.Chat(
    "assistant",
    context=[State("continent", "value"), State("year", "value")],
    examples=[
        "Show only Europe and tell me the top three products",
        "Show only Asia in the year 1977",
        "Describe the life expectancy column",
    ],
    placeholder="Ask about the data",
)


@assistant.tool
def show_only(continent: Continent, context: ToolContext) -> str:
    """Show only one continent on the dashboard, or all continents again."""
    context.set_props("continent", {"value": continent})
    _, year = context.values
    return f"The dashboard shows {continent}, {year}: {len(rows(continent, year))} countries."


@assistant.tool
def show_year(year: int, context: ToolContext) -> str:
    """Show another year on the dashboard; the data has 1952 to 2007, every five years."""
    nearest = known_year(year)
    context.set_props("year", {"value": nearest})
    return f"The dashboard shows {nearest}" + ("." if nearest == year else f", the nearest year to {year}.")


@assistant.tool
def top_products(
    n: Annotated[int, Field(ge=1, le=20)],
    context: ToolContext,
    continent: Continent | None = None,
    year: int | None = None,
) -> list[dict[str, Any]]:
    """The n countries with the largest gross domestic product (GDP per capita times population), in
    the continent and year given, else the ones on screen."""
    data = rows(*on_screen(context, continent, year))
    top = data.assign(gdp=data["gdpPercap"] * data["pop"]).nlargest(n, "gdp")
    return [
        {"country": row["country"], "GDP (billion USD)": round(row["gdp"] / 1e9)} for _, row in top.iterrows()
    ]


@assistant.tool
def describe_column(
    column: Column, context: ToolContext, continent: Continent | None = None, year: int | None = None
) -> dict[str, Any]:
    """Statistics of a column (count, mean, median, the lowest and highest countries), in the
    continent and year given, else the ones on screen."""
    continent, year = on_screen(context, continent, year)
    data = rows(continent, year)
    values = data[COLUMNS[column]]
    return {
        "rows": f"{continent}, {year}",
        "count": int(values.count()),
        "mean": round(float(values.mean()), 1),
        "median": round(float(values.median()), 1),
        "lowest": _extreme(data, COLUMNS[column], "idxmin"),
        "highest": _extreme(data, COLUMNS[column], "idxmax"),
    }


def known_year(year: int) -> int:
    """The year of the data nearest to `year`."""
    return min(YEARS, key=lambda known: abs(known - year))


def on_screen(context: ToolContext, continent: str | None, year: int | None) -> tuple[str, int]:
    """The continent and year a tool was given, else the dashboard's: as the user left them, or as the
    tools of earlier rounds of this answer moved them (hybrid keeps `context.values` up to date)."""
    shown, shown_year = context.values
    return continent or shown, known_year(year) if year is not None else shown_year


@assistant.answer
async def answer(messages: Sequence[hybrid.Message], continent: str, year: int) -> AsyncIterator[object]:
    """Answer from a summary of the rows on screen, with the tools above (the same loop as without an
    answer function, with a system prompt of our own)."""
    facts = summary(continent, year)
    yield hybrid.Reasoning(f"Reading the data on screen.\n\n{facts}")
    system = (
        "You are a data analyst beside a dashboard of the Gapminder data. Use the tools to change the view "
        "or to compute from the data. Tools called together run at once and see the dashboard as it was: "
        "when you move a filter and compute in the same step, give the computing tool the continent and "
        "year. Answer from these facts and the tools' results only, briefly, and say when they do not "
        "tell:\n" + facts
    )
    async for part in assistant.model(messages, system=system):
        yield part


app.layout = html.Div(
    style={"display": "flex", "gap": "16px", "padding": "16px", "fontFamily": "system-ui, sans-serif"},
    children=[
        html.Div(
            style={"flex": "3", "minWidth": "0"},
            children=[
                html.H1("Life expectancy and wealth", style={"fontSize": "1.4rem", "margin": "0 0 8px"}),
                html.Div(
                    style={"display": "flex", "gap": "16px", "alignItems": "center"},
                    children=[
                        dcc.Dropdown(
                            [ALL, *CONTINENTS], ALL, id="continent", clearable=False, style={"width": "14rem"}
                        ),
                        html.Div(
                            dcc.Slider(
                                YEARS[0],
                                YEARS[-1],
                                5,
                                value=YEARS[-1],
                                id="year",
                                marks={y: str(y) for y in YEARS[::2]},
                            ),
                            style={"flex": "1"},
                        ),
                    ],
                ),
                dcc.Graph(id="figure", style={"height": "32rem"}),
            ],
        ),
        html.Div(assistant, style={"flex": "2", "minWidth": "20rem"}),
    ],
)


@app.callback(Output("figure", "figure"), Input("continent", "value"), Input("year", "value"))
def update_figure(continent: str, year: int) -> go.Figure:
    return figure(continent, year)


server = hybrid.create_app(app)
