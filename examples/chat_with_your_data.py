"""A dashboard with an assistant beside it: ask about the data on screen, or ask it to change the view.

    pip install -e '.[examples]'          # pandas, for plotly.express's data sets
    uvicorn examples.chat_with_your_data:server --reload    # then open http://127.0.0.1:8000

The data is Gapminder's (life expectancy, GDP per capita and population by country, 1952-2007), as
Plotly ships it. The assistant reads the filters when you send (the Chat's `context`), answers from a
compact summary of the filtered rows, and moves the filters itself when you ask ("show Asia in 1977"):
`SetProps` changes the dropdown and the slider, and the figure follows through its ordinary callback.

Without keys the demo model answers (the thinking and the filter changes are real, the prose is the
demo's); with `OPENAI_API_KEY` and `HYBRID_MODEL` set (see the README's Providers), a real model does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html

import hybrid

DATA = px.data.gapminder()
YEARS = sorted(DATA["year"].unique().tolist())
CONTINENTS = sorted(DATA["continent"].unique().tolist())
ALL = "All continents"


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
    examples=["Which country lives longest here?", "Show Asia in 1977", "Compare the continents"],
    placeholder="Ask about the data",
)


@assistant.answer
async def answer(messages: Sequence[hybrid.Message], continent: str, year: int) -> AsyncIterator[object]:
    """Move the filters when asked, then answer from a summary of the rows on screen."""
    question = messages[-1].content
    wanted_continent, wanted_year = requested_view(question)
    if wanted_continent or wanted_year:
        continent, year = wanted_continent or continent, wanted_year or year
        yield hybrid.SetProps("continent", {"value": continent})
        yield hybrid.SetProps("year", {"value": year})
    facts = summary(continent, year)
    yield hybrid.Reasoning(f"Reading the data on screen.\n\n{facts}")
    system = (
        "You are a data analyst beside a dashboard of the Gapminder data. Answer from these facts only, "
        "briefly, and say when they do not tell:\n" + facts
    )
    async for part in assistant.model(messages, system=system):
        yield part


def requested_view(question: str) -> tuple[str | None, int | None]:
    """The continent and year a question asks to see ("show Asia in 1977"), where it names them."""
    lowered = question.lower()
    continent = next((name for name in CONTINENTS if name.lower() in lowered), None)
    if re.search(r"\b(all|every) (the )?continents\b|\bthe world\b", lowered):
        continent = ALL
    years = [int(y) for y in re.findall(r"\b(19[5-9]\d|200\d)\b", question)]
    year = min(YEARS, key=lambda known: abs(known - years[0])) if years else None
    return continent, year


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

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(server)
