"""The Teams bot: Bot Framework activities at `POST /api/messages` (JWT checked), ticket cards
posted and updated in place through the Bot Connector, Universal Actions, dialogs, personal page
notices and @mention commands.

- `context` — what every handler gets (`BotContext`) and gives back (`Outcome`), and the card verbs.
- `handlers` — what a person's message, card action or dialog does (the command layer and flows).
- `web` — `POST /api/messages`: authenticates activities and turns Outcomes into Teams answers.
- `auth` — the Bot Framework JWT of incoming activities, the bot's own token for outgoing calls.
- `connector` — the Bot Connector REST calls (threads, replies, updates, personal chats).
- `cards` — the bot's ticket and page cards (Universal Actions, refresh, dialog buttons).
- `notifier` — the `teams_bot` outbox target: planner (event listener) and deliverer.
- `store` — conversation references, ticket threads and people's Teams ids.
"""
