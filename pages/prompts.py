"""Prompts (admins): the organisation's templates and stages (seed 003) that shape what the chat
sends to a model. Edits apply to the next question."""

import streamlit as st

from workbench import prompts, ui
from workbench.errors import WorkbenchError

ctx = ui.require("prompts:manage")
st.title("Prompts")
st.caption(
    "Variables in braces are filled in for each question: {sources}, {question}, {business_name}, "
    "{history}, {extraction}. The extractive provider ignores prompts; OpenAI-compatible ones get them. "
    "With a model configured, the stage-selection template ({stages}, {history}, {question}) first asks it "
    "which stage fits; without one, the chat's agent picks the stage (documents or code)."
)

with ui.connection() as con:
    templates = prompts.list_templates(ctx, con)
    stages = prompts.stages(ctx, con)

st.subheader("Stages")
st.dataframe(
    [{"position": s["position"], "stage": s["name"], "used for": s["description"]} for s in stages],
    hide_index=True,
    width="stretch",
)

st.subheader("Templates")
if not templates:
    st.info("This organisation has no templates yet; `workbench init` creates the defaults.")
for template in templates:
    with st.expander(f"{template['name']} · {template['template_type'].replace('_', ' ')}"):
        with st.form(f"template.{template['uuid']}"):
            system = None
            if template["template_type"] != "system":
                system = st.text_area(
                    "System prompt (empty: the organisation's system template)",
                    value=template["system_prompt"] or "",
                    height=80,
                    key=f"template.{template['uuid']}.system",
                )
            content = st.text_area(
                "Template", value=template["content"], height=180, key=f"template.{template['uuid']}.content"
            )
            st.caption(
                "Variables: "
                + (", ".join(template["variables"]) or "none")
                + f" · last changed {template['updated_at']:%Y-%m-%d %H:%M}"
            )
            if st.form_submit_button("Save", type="primary"):
                try:
                    with ui.connection(write=True) as con:
                        prompts.update_template(
                            ctx, con, template["uuid"], content=content, system_prompt=system
                        )
                    st.toast("Saved: the next question uses it.")
                    st.rerun()
                except WorkbenchError as exc:
                    st.error(str(exc))
