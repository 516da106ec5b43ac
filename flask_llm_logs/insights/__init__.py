"""What the stored traces add up to: the metrics of LLM calls over time."""
