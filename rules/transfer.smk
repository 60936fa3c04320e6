# Elastic architecture transfer: pick the basic architecture, then generate the seeded population.


rule select_basic:
    """Retrain the small search's top-k and choose the basic architecture."""
    input:
        config=ancient(RESOLVED_CONFIG),
        best=rules.search_small.output.best,
    output:
        basic=f"{R}/select/basic.json",
        weights=f"{R}/select/basic.pt",
        candidates=f"{R}/select/candidates.csv",
    log:
        f"{LOGS}/select_basic.log",
    benchmark:
        f"{BENCH}/select_basic.tsv"
    params:
        key=config_key(config, "select_basic"),
        search=lambda w, input: os.path.dirname(input.best),
        out=lambda w, output: os.path.dirname(output.basic),
    threads: config["threads"]
    resources:
        gpu=gpu_request(config),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas select --config {input.config} --search {params.search}"
        " --out {params.out} > {log} 2>&1"


rule transfer:
    """Offspring of the basic architecture for the large dataset, with inherited weights."""
    input:
        config=ancient(RESOLVED_CONFIG),
        basic=rules.select_basic.output.basic,
        weights=rules.select_basic.output.weights,
    output:
        offspring=f"{R}/transfer/offspring.json",
        parent=f"{R}/transfer/parent.pt",
    log:
        f"{LOGS}/transfer.log",
    benchmark:
        f"{BENCH}/transfer.tsv"
    params:
        key=config_key(config, "transfer"),
        basic=lambda w, input: os.path.dirname(input.basic),
        out=lambda w, output: os.path.dirname(output.offspring),
    threads: config["threads"]
    resources:
        gpu=gpu_request(config),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas transfer --config {input.config} --basic {params.basic}"
        " --out {params.out} > {log} 2>&1"
