"""LUMOS agents: planner, grounder, model back-ends; importing it registers the tool model resolvers."""

from agents import tool_models as tool_models  # noqa: F401 - fills lumos_envs.resolvers (llm:, openai:)
