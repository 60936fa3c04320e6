# Final training + quantized export, then the report.


rule final:
    """Train the best architecture from scratch, apply the bit policy, export, re-load and evaluate."""
    input:
        config=ancient(RESOLVED_CONFIG),
        best=rules.search_large.output.best,
        policy=rules.search_quant.output.policy,
    output:
        model=f"{R}/final/model.pt",
        quantized=f"{R}/final/quantized.pt",
        metrics=report(
            f"{R}/final/metrics.json",
            caption="../workflow/report/final.rst",
            category="Final model",
        ),
    log:
        f"{LOGS}/final.log",
    benchmark:
        f"{BENCH}/final.tsv"
    params:
        key=config_key(config, "final"),
        search=lambda w, input: os.path.dirname(input.best),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: config["final"]["threads"] or config["threads"]
    resources:
        gpu=gpu_request(config),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas final --config {input.config} --search {params.search}"
        " --policy {input.policy} --out {params.out} > {log} 2>&1"


rule report:
    """Plots, summary.json and summary.md from every stage's outputs and benchmark files."""
    input:
        unpack(report_inputs),
    output:
        summary=report(
            f"{R}/report/summary.json",
            caption="../workflow/report/summary.rst",
            category="Summary",
        ),
        markdown=f"{R}/report/summary.md",
        search_plot=report(
            f"{R}/report/search_progress.png",
            caption="../workflow/report/search_progress.rst",
            category="Search",
        ),
        pareto=report(
            f"{R}/report/pareto.png",
            caption="../workflow/report/pareto.rst",
            category="Quantization",
        ),
        bits=report(
            f"{R}/report/bits_per_layer.png",
            caption="../workflow/report/bits.rst",
            category="Quantization",
        ),
        arch=report(
            f"{R}/report/architecture.png",
            caption="../workflow/report/architecture.rst",
            category="Final model",
        ),
        **scratch_plot_output(),
    log:
        f"{LOGS}/report.log",
    params:
        results=lambda w, input: os.path.dirname(input.config),
        out=lambda w, output: os.path.dirname(output.summary),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas report --config {input.config} --results {params.results} --out {params.out} > {log} 2>&1"
