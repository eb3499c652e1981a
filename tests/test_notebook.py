"""The lecture as a notebook: docs/lecture.ipynb executed top to bottom in a real Jupyter kernel (nbclient and
ipykernel) on a reproduced project. Its cells check their own numbers against the stages' files and metrics, so a
stale or failing cell fails here."""

import nbformat
from helpers import ROOT
from nbclient import NotebookClient

NOTEBOOK = ROOT / "docs/lecture.ipynb"


def test_the_lecture_notebook_runs_on_the_pipelines_outputs_and_leaves_the_workspace_as_it_was(project):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        "commit the notebook without outputs: they are made by running it"
    )
    before = project.git("status", "--porcelain")

    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(project.path / "docs")}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = [output for cell in code for output in cell.outputs]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 3  # the count grid, the weights against the log-counts, the stage's difference grid
    printed = "".join(output.get("text", "") for output in outputs)
    assert "val NLL with k = 0.5" in printed and "Ran experiment(s): lecture-k-0.5" in printed
    assert project.git("status", "--porcelain") == before  # the experiment ran in a temporary copy
    assert "lecture-k-0.5" in project.dvc("exp", "list", "--name-only").stdout.split()
