"""Persistence: the single-table layout (:mod:`.schema`) and its DynamoDB adapter (:mod:`.dynamodb`)."""
