# Quantization-policy search (JASQ) on the large search's best architecture.


rule search_quant:
    """Per-layer bit-width policy search: Pareto front of accuracy vs model size."""
    input:
        config=ancient(RESOLVED_CONFIG),
        best=rules.search_large.output.best,
    output:
        policy=f"{R}/quant/policy.json",
        frontier=f"{R}/quant/frontier.csv",
        best=f"{R}/quant/best.json",
    log:
        f"{LOGS}/search_quant.log",
    benchmark:
        f"{BENCH}/search_quant.tsv"
    params:
        key=config_key(config, "search_quant"),
        search=lambda w, input: os.path.dirname(input.best),
        out=lambda w, output: os.path.dirname(output.policy),
    threads: config["threads"]
    resources:
        gpu=gpu_request(config),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas quant search --config {input.config} --search {params.search}"
        " --out {params.out} > {log} 2>&1"
