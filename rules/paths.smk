# Paths of this run (included after the config is validated and defaulted).
R = run_dir(config)
RESOLVED_CONFIG = f"{R}/config.resolved.yaml"
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"
