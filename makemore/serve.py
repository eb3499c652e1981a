"""`makemore serve`: a local page to explore the ladder. Type words and see each character's probability under
every model, a heatmap with the models as rows; sample from any model; read the leaderboard.

FastAPI answers the page (makemore/explore.html: plain HTML and script, nothing from the network) and its JSON
requests through makemore.api.Project, the code path of the `makemore` command; uvicorn serves it, on
127.0.0.1 unless told otherwise. Inputs are bounded, and a bad request gets a 4xx with `{"error": ONE LINE}`.
"""

import math
import socket
import sys
from importlib.resources import files
from typing import Annotated

import pandas as pd
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from makemore import MakemoreError
from makemore.api import DEFAULT_SEED, Project, Trained
from makemore.params import MAX_LENGTH, MAX_SEED
from makemore.vocab import VOCAB_FILE

MAX_WORDS = 8  # words scored at once
MAX_CHARACTERS = 64  # in a word to score
MAX_SAMPLES = 200  # words drawn at once
MAX_TEMPERATURE = 100.0  # past it every distribution is flat to 4 decimals


class UnknownModel(MakemoreError):
    """A request for a model the page does not serve: 404."""


def number(value: float) -> float | str | None:
    """A float as JSON has it: "inf" for an infinite NLL, null for none."""
    return None if math.isnan(value) else value if math.isfinite(value) else "inf"


def loadable(project: Project) -> tuple[pd.DataFrame, dict[str, Trained]]:
    """The leaderboard, and every model of it that loads, best val first; each one that does not is named on
    stderr (not trained yet, or trained with other params: its status says which)."""
    if not (project.root / VOCAB_FILE).is_file():  # nothing made yet: one line, not one per model
        raise MakemoreError(f"{project.root / VOCAB_FILE}: no such file: run `dvc repro` or `dvc pull` first")
    board = project.leaderboard()
    served = {}
    for name in board["model"]:
        try:
            served[name] = project.load(name)
        except MakemoreError as e:
            print(f"warning: not serving {name}: {e}", file=sys.stderr)
    if not served:
        raise MakemoreError(f"{project.root}: no trained model to serve: run `dvc repro` or `dvc pull` first")
    return board, served


def app(project: Project) -> FastAPI:
    board, served = loadable(project)
    longest, why = min(
        [(MAX_CHARACTERS, "the page's bound")]
        + [
            (trained.model.max_word_length, f"the longest word {name} reads whole")
            for name, trained in served.items()
            if trained.model.max_word_length is not None
        ]
    )
    page = files("makemore").joinpath("explore.html").read_text(encoding="utf-8")
    explore = FastAPI(title="makemore", docs_url=None, redoc_url=None, openapi_url=None)

    @explore.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:])
        return JSONResponse({"error": f"{where}: {first['msg']}"}, status_code=422)

    @explore.exception_handler(MakemoreError)
    async def refused(request: Request, error: MakemoreError) -> JSONResponse:
        return JSONResponse(
            {"error": str(error)}, status_code=404 if isinstance(error, UnknownModel) else 400
        )

    @explore.exception_handler(StarletteHTTPException)
    async def unknown(request: Request, error: StarletteHTTPException) -> JSONResponse:
        path = request.url.path if len(request.url.path) <= 100 else request.url.path[:100] + "..."
        return JSONResponse(
            {"error": f"{path}: {error.detail}"}, status_code=error.status_code, headers=error.headers
        )

    @explore.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def index() -> str:
        return page

    @explore.get("/api/leaderboard")
    def leaderboard() -> dict:
        rows = [
            {key: number(value) if isinstance(value, float) else value for key, value in row.items()}
            for row in board.to_dict("records")
        ]
        return {"project": str(project.root.absolute()), "rows": rows, "served": list(served)}

    @explore.get("/api/score")
    def score(
        words: Annotated[str, Query(min_length=1, max_length=MAX_WORDS * (MAX_CHARACTERS + 1))],
    ) -> dict:
        chosen = list(dict.fromkeys(word for word in words.split(" ") if word))  # each distinct word once
        if not chosen or len(chosen) > MAX_WORDS:
            raise MakemoreError(f"give 1 to {MAX_WORDS} words, separated by spaces: {len(chosen)} given")
        if too_long := [word for word in chosen if len(word) > longest]:
            raise MakemoreError(f"{too_long[0][:20]!r}...: at most {longest} characters a word ({why})")
        scores = project.score(chosen, list(served))
        return {"words": [scored(scores[scores["word"] == word]) for word in chosen]}

    @explore.get("/api/sample")
    def sample(
        model: Annotated[str, Query(max_length=100)],
        num: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = 20,
        seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = DEFAULT_SEED,
        temperature: Annotated[float, Query(gt=0, le=MAX_TEMPERATURE)] = 1.0,
        top_k: Annotated[int | None, Query(ge=1)] = None,
        max_len: Annotated[int, Query(ge=1, le=MAX_LENGTH)] = 50,
    ) -> dict:
        if model not in served:
            raise UnknownModel(f"no such model: {model!r} (the models: {', '.join(served)})")
        return {"words": served[model].sample(num, seed, temperature, top_k, max_len)}

    return explore


def scored(scores: pd.DataFrame) -> dict:
    """One word's heatmap: the word as the models read it (normalised), its tokens, and each model's p of each token
    and mean NLL, in the ladder's order."""
    models = []
    for name, rows in scores.groupby("model", sort=False):
        mean_nll = -rows["log_p"].mean()
        models.append({"model": name, "p": rows["p"].round(6).tolist(), "nll": number(mean_nll)})
    tokens = scores["token"].iloc[: len(models[0]["p"])].tolist()
    return {"word": "".join(tokens[:-1]), "tokens": tokens, "models": models}


def serve(project: Project, host: str, port: int) -> None:
    """Serve the page until Ctrl-C; port 0 takes any free one. The URL is printed once the page can be opened."""
    explore = app(project)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as e:
        raise MakemoreError(
            f"cannot serve on {host}:{port}: {e.strerror} (choose another --host or --port)"
        ) from None
    listening.listen(128)  # a browser that connects from now on waits for the server, not refused
    where = listening.getsockname()
    url = f"http://{f'[{where[0]}]' if family == socket.AF_INET6 else where[0]}:{where[1]}/"
    print(f"serving the models of {project.root.absolute()} on {url} (Ctrl-C stops)", flush=True)
    uvicorn.Server(uvicorn.Config(explore, log_level="warning")).run(sockets=[listening])
