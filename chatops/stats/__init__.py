"""Stats for managers: rollups kept in step with ticket events, queries, formatting, charts."""
