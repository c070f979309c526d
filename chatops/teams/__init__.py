"""Microsoft Teams surface: Adaptive Cards / MessageCards through the outbox, signed action
links with a confirmation page, and the outgoing-webhook verbs."""
