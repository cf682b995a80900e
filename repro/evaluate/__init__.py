"""Stage 3 of the paper (and its stage 00): lm-eval on every (model, criterion, level, task).

    plan.py              what will run (ModelPlan), the lm-eval options, the settings that change numbers
    stage.py             the lm-eval grid stage (on repro/grid's executor) and `evaluate()`
    runner.py            one lm-eval call on an in-memory model, and what a cell keeps of it
    batch.py             batch size as a setting; what "auto" resolved to
    cli.py               `python -m repro evaluate`
    neuron_selection.py  `python -m repro neuron-selection` (the criteria compared at 10%)
    nltk_data.py         IFEval's punkt_tab and the offline stand-in for the smoke tasks
    tasks/               the kit's own local tasks and the stdlib text they use
"""
