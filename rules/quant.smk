# Quantization: the bit-policy search (JASQ) on the large search's best architecture, and the joint search.


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


rule search_joint:
    """JASQ joint architecture + bit-width search on the large dataset (a named target, not in the default run)."""
    input:
        config=ancient(RESOLVED_CONFIG),
    output:
        best=f"{R}/quant_joint/best.json",
    log:
        f"{LOGS}/search_joint.log",
    benchmark:
        f"{BENCH}/search_joint.tsv"
    params:
        key=config_key(config, "search_joint"),
        out=lambda w, output: os.path.dirname(output.best),
    threads: config["threads"]
    resources:
        gpu=gpu_request(config),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.resume --out {params.out} --key {params.key} > {log} 2>&1 &&"
        " python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas quant joint --config {input.config}"
        " --out {params.out} >> {log} 2>&1"
