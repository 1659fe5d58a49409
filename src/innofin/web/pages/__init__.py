"""The pages, by area; each module has a `router` whose routes name their policy action."""
