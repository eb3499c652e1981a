"""`makemore serve`: a local page to explore the ladder. Type words and see each character's probability under
every model, a heatmap with the models as rows; sample from any model; read the leaderboard.

FastAPI answers the page (makemore/explore.html: plain HTML and script, nothing from the network) and its JSON
requests through makemore.api.Project, the code path of the `makemore` command; uvicorn serves it, on
127.0.0.1 unless told otherwise, to requests for the address served only (a wildcard one takes any). Inputs are
bounded, and a bad request gets a 4xx with `{"error": ONE LINE}`.
"""

import ipaddress
import math
import socket
import sys
from importlib.resources import files
from typing import Annotated, Literal

import pandas as pd
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import Field, StrictInt, model_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from makemore import MakemoreError
from makemore.api import Project, Trained
from makemore.params import Constraints, Sample, number_or_null
from makemore.vocab import VOCAB_FILE

MAX_WORDS = 8  # words scored at once
MAX_CHARACTERS = 64  # in a word to score
MAX_SAMPLES = 200  # words drawn at once
MAX_TEMPERATURE = 100.0  # past it every distribution is flat to 4 decimals
THIS_MACHINE = "127.0.0.1"  # the host served when none is given: an empty one would bind every interface
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")  # the page answers to these too, with its port


class SampleRequest(Sample):
    """A request for samples: a model, and the sample settings with their defaults, bounded further so that one
    request stays short. Its values come as text, read as the command line's are."""

    model: str = Field(max_length=100)
    num: StrictInt = Field(Sample.model_fields["num"].default, ge=1, le=MAX_SAMPLES)
    temperature: float = Field(Sample.model_fields["temperature"].default, gt=0, le=MAX_TEMPERATURE)

    @model_validator(mode="before")
    @classmethod
    def numbers(cls, query: dict) -> dict:
        return {key: text if key == "model" else number_or_null(text) for key, text in query.items()}


class FindRequest(Constraints):
    """A request for the words of a model that meet the constraints: drawn from it, or the most likely in exact
    order. The page names no file of the server's (no `exclude`), and `num` is bounded as a sample's is."""

    model: str = Field(max_length=100)
    way: Literal["top", "sample"] = "top"  # the most likely words, or samples
    num: StrictInt = Field(20, ge=1, le=MAX_SAMPLES)
    per_token: bool = False  # top: by the mean NLL per token, not the probability
    exclude: None = None

    @model_validator(mode="before")
    @classmethod
    def values(cls, query: dict) -> dict:
        """A query's text as the fields take it: num as its number, a yes or no from `true` or `false`."""
        read = {"true": True, "false": False}
        return {
            key: number_or_null(text) if key == "num" else read.get(text, text) if key in FLAGS else text
            for key, text in query.items()
        }


FLAGS = ("novel", "per_token")  # the yes-or-no fields of a FindRequest


class UnknownModel(MakemoreError):
    """A request for a model the page does not serve: 404."""


class ServedHostsOnly:
    """ASGI middleware: a request whose Host header is not one of `hosts` gets a 400 and one line, before any
    route sees it. A page of another site whose name now points at this machine (DNS rebinding) sends that
    name as the Host, and so cannot read the answers."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = Headers(scope=scope).get("host", "")
        if scope["type"] != "http" or host.lower() in self.hosts:
            await self.app(scope, receive, send)
            return
        refusal = f"Host {shortened(host)!r}: not an address of this page (it answers to {', '.join(sorted(self.hosts))})"
        await JSONResponse({"error": refusal}, status_code=400)(scope, receive, send)


def served_hosts(host: str, address: str, port: int) -> frozenset[str] | None:
    """The Host headers the page answers: the host as given, the address bound and the loopback names, each with
    the port (and without it on port 80, as a browser sends it). None, every one, on a wildcard address
    (0.0.0.0, ::): the page is then open to the network, under whatever name the machine has there."""
    if ipaddress.ip_address(address).is_unspecified:
        return None
    names = {f"[{name}]" if ":" in name else name for name in (host.lower(), address, *LOOPBACK_NAMES)}
    return frozenset({f"{name}:{port}" for name in names} | (names if port == 80 else set()))


def shortened(text: str) -> str:
    """What a request sent, as its one-line refusal quotes it: its first 100 characters."""
    return text if len(text) <= 100 else text[:100] + "..."


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


async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:])
    return JSONResponse({"error": f"{where}: {first['msg']}"}, status_code=422)


async def refused(request: Request, error: MakemoreError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=404 if isinstance(error, UnknownModel) else 400)


async def unknown(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": f"{shortened(request.url.path)}: {error.detail}"},
        status_code=error.status_code,
        headers=error.headers,
    )


# every refusal a 4xx with one line: a value out of bounds, a request the models refuse, an unknown path
ONE_LINE_ERRORS = {RequestValidationError: invalid, MakemoreError: refused, StarletteHTTPException: unknown}


def longest_word(served: dict[str, Trained]) -> tuple[int, str]:
    """The most characters a word to score may have, and why: the page's bound, or a model that reads words whole."""
    return min(
        [(MAX_CHARACTERS, "the page's bound")]
        + [
            (trained.model.max_word_length, f"the longest word {name} reads whole")
            for name, trained in served.items()
            if trained.model.max_word_length is not None
        ]
    )


def app(project: Project, hosts: frozenset[str] | None) -> FastAPI:
    board, served = loadable(project)
    longest, why = longest_word(served)
    page = files("makemore").joinpath("explore.html").read_text(encoding="utf-8")
    explore = FastAPI(
        title="makemore", docs_url=None, redoc_url=None, openapi_url=None, exception_handlers=ONE_LINE_ERRORS
    )
    if hosts is not None:
        explore.add_middleware(ServedHostsOnly, hosts=hosts)

    @explore.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def index() -> str:
        return page

    @explore.get("/api/leaderboard")
    def leaderboard() -> dict:
        return leaderboard_answer(project, board, served)

    @explore.get("/api/score")
    def score(
        words: Annotated[str, Query(min_length=1, max_length=MAX_WORDS * (MAX_CHARACTERS + 1))],
    ) -> dict:
        return score_answer(project, served, words.split(" "), longest, why)

    @explore.get("/api/sample")
    def sample(request: Annotated[SampleRequest, Query()]) -> dict:
        settings = request.model_dump(exclude={"model"})
        return {"words": served_model(served, request.model).sample(**settings)}

    @explore.get("/api/find")
    def find(request: Annotated[FindRequest, Query()]) -> dict:
        return find_answer(served_model(served, request.model), request)

    return explore


def score_answer(
    project: Project, served: dict[str, Trained], words: list[str], longest: int, why: str
) -> dict:
    """Each distinct word's heatmap row under the served models, refused in one line past the bounds."""
    chosen = list(dict.fromkeys(word for word in words if word))
    if not chosen or len(chosen) > MAX_WORDS:
        raise MakemoreError(f"give 1 to {MAX_WORDS} words, separated by spaces: {len(chosen)} given")
    if too_long := [word for word in chosen if len(word) > longest]:
        raise MakemoreError(f"{too_long[0][:20]!r}...: at most {longest} characters a word ({why})")
    scores = project.score(chosen, list(served))
    return {"words": [scored(scores[scores["word"] == word]) for word in chosen]}


def find_answer(trained: Trained, request: FindRequest) -> dict:
    """The words of the find panel: samples with how many were drawn, or the most likely with p and NLL."""
    constraints = request.model_dump(include=set(Constraints.model_fields) - {"exclude"})
    if request.way == "sample":
        drawn = trained.samples(request.num, **constraints)
        return {"words": [{"word": word} for word in drawn], "drawn": drawn.drawn, "kept": drawn.kept}
    top = trained.top(request.num, request.per_token, **constraints)
    return {"words": top[["word", "p", "nll"]].to_dict("records")}


def served_model(served: dict[str, Trained], name: str) -> Trained:
    if name not in served:
        raise UnknownModel(f"no such model: {name!r} (the models: {', '.join(served)})")
    return served[name]


def leaderboard_answer(project: Project, board: pd.DataFrame, served: dict[str, Trained]) -> dict:
    """The leaderboard's rows, the models served, and the sample schema's defaults for the page's inputs. The
    project is named by its folder: no answer holds an absolute path (the console line at start does)."""
    rows = [
        {key: number(value) if isinstance(value, float) else value for key, value in row.items()}
        for row in board.to_dict("records")
    ]
    return {
        "project": project.root.absolute().name,
        "rows": rows,
        "served": list(served),
        "sample": Sample().model_dump(),
    }


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
    """Serve the page until Ctrl-C; a blank host is 127.0.0.1, port 0 takes any free one. The URL is printed once
    the page can be opened."""
    host = host.strip() or THIS_MACHINE
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as e:
        raise MakemoreError(
            f"cannot serve on {host}:{port}: {e.strerror} (choose another --host or --port)"
        ) from None
    where = listening.getsockname()
    explore = app(project, served_hosts(host, where[0], where[1]))
    listening.listen(128)  # a browser that connects from now on waits for the server, not refused
    url = f"http://{f'[{where[0]}]' if family == socket.AF_INET6 else where[0]}:{where[1]}/"
    print(f"serving the models of {project.root.absolute()} on {url} (Ctrl-C stops)", flush=True)
    uvicorn.Server(uvicorn.Config(explore, log_level="warning")).run(sockets=[listening])
