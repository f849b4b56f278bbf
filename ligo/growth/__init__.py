"""Growing a small model into a large one: the names of every method and init scheme
(``schemes``), width expansions (``expansion``), the linear growth map shared by every method
(``growth_map``), the LiGO operator (``operator``), the baselines (``baselines``), the large model
as a function of an operator (``grown_model``) and the operator's diagnostics (``diagnostics``).
Family-agnostic: a family's layout comes from ``ligo.models``."""
