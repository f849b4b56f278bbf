"""Fine-tuning pretrained models on downstream tasks: the pieces of each benchmark (``glue``,
``squad``), the shared flags (``arguments``), loop (``train``), model loading (``model``) and
output-folder handling (``outputs``), the Table 1 results table both fill (``table``), and one
run of each over its tasks and seeds (``glue_run``, ``squad_run``)."""
