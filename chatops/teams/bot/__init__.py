"""The Teams bot: Bot Framework activities at `POST /api/messages` (JWT checked), ticket cards
posted and updated in place through the Bot Connector, Universal Actions, dialogs, personal page
notices and @mention commands.

- `context` — what every handler gets (`BotContext`) and gives back (`Outcome`), and the card verbs.
- `handlers` — what a person's message, card action or dialog does (the command layer and flows).
"""
