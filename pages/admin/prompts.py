"""Agents & prompts (admins): the organisation's agents, stages and templates that shape what the
chat sends to a model. Edits apply to the next question."""

from functools import partial

import streamlit as st

from workbench import ui
from workbench.chat import prompts
from workbench.ui import admin

ctx = ui.require("prompts:manage")
st.title("Agents & prompts")
st.caption(
    "Variables in braces are filled in for each question: {sources}, {question}, {business_name}, "
    "{history}, {extraction}. The extractive provider ignores prompts; OpenAI-compatible ones get them. "
    "With a model configured, the stage-selection template ({stages}, {history}, {question}) first asks it "
    "which stage fits; without one, the chat's agent picks the stage (documents or code)."
)

with ui.connection() as con:
    templates = prompts.list_templates(ctx, con)
    stages = prompts.stage_settings(ctx, con)
    agents = prompts.list_agents(ctx, con)
ui.show_flash("prompts.done")

st.subheader("Agents")
st.caption("The chat offers one agent per type and shows the name you give it here.")
for agent in agents:
    with st.expander(f"{agent['name']} · {agent['agent_type']}"), st.form(f"agent.{agent['uuid']}"):
        name = st.text_input("Name", agent["name"])
        description = st.text_area("Description", agent["description"] or "", height=68)
        if st.form_submit_button("Save agent"):
            ui.apply(
                partial(
                    prompts.update_agent, ctx, agent_uuid=agent["uuid"], name=name, description=description
                ),
                f"Saved {name}.",
                "prompts.done",
            )

st.subheader("Stages")
st.caption("A configured model reads these descriptions to pick the stage; without one, the agent picks it.")
responses = [t["name"] for t in templates if t["template_type"] == "response_generation"]
for stage in stages:
    with st.expander(f"{stage['position']}. {stage['name']}"), st.form(f"stage.{stage['uuid']}"):
        description = st.text_area("Used for", stage["description"], height=68)
        position = st.number_input("Position", value=stage["position"], step=1)
        response = st.selectbox(
            "Response template", responses, index=responses.index(stage["response_template"])
        )
        if st.form_submit_button("Save stage"):
            ui.apply(
                partial(
                    prompts.update_stage,
                    ctx,
                    stage_uuid=stage["uuid"],
                    description=description,
                    position=position,
                    response_template=response,
                ),
                f"Saved stage {stage['name']}.",
                "prompts.done",
            )

st.subheader("Templates")
if not templates:
    st.info("This organisation has no templates yet; `workbench init` creates the defaults.")
for template in templates:
    with st.expander(f"{template['name']} · {template['template_type'].replace('_', ' ')}"):
        admin.template_editor(ctx, template)
