"""Where answers come from, behind one interface (`base.py`: `Provider.reply` -> `Reply`).

`demo/` is the embedded model (no keys, no network); `openai/` is OpenAI, Azure OpenAI and compatible
servers through the SDK; `select.py` picks one from the settings. The rest of hybrid knows providers
through `base.py` only.
"""
