"""The first call of a request, from its words: which tools it may use, and which arguments they may take.

Small models choose the tool badly when several fit a grammar: the 0.5B, asked "Explain the clean
target in my Makefile", ran the test suite; asked "What's the git status here?", read the README;
asked "Which tests use pytest.raises?", ran the tests. What the request asks for is usually plain
from its words: a file it names and nothing else to do is read; "which files use X" is a search for
X; "run python -m tipcalc 50" is that command; "what's the git status" is ``git status``. An
``Ask`` limits the step's grammar to those tools and, where the words say, to those arguments; the
model still writes the call. Requests these rules do not cover are left to the model's own decision.

Nothing here comes from untrusted text except workspace file names, which only ever narrow a
choice among the workspace's own paths, and the commands a request itself spells out.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.followup import RESULT_BLOCK, TEST_WORD, WANTS_TESTS, TurnState, test_commands
from assistant.grounding import LEAD_IN, QUOTED, asks_edit, normal_path, path_argument
from assistant.turntext import previous_request

# The answer needs no tool: a greeting, thanks or goodbye and nothing else.
SMALL_TALK = frozenset((
    "hi", "hello", "hey", "hiya", "yo", "howdy", "greetings", "thanks", "thank", "you", "thx", "ty",
    "cheers", "bye", "goodbye", "good", "morning", "afternoon", "evening", "night", "day", "there", "all",
    "ok", "okay", "great", "nice", "cool", "please", "assistant", "friend", "folks", "everyone",
    "for", "now", "see", "later", "soon", "take", "care", "talk", "ciao", "so", "much", "lot", "very",
    "awesome", "perfect", "appreciated", "appreciate", "it", "that", "again", "bud", "mate",
    "how", "how's", "are", "doing", "going", "it's", "what's", "up", "welcome", "heya",
))  # fmt: skip
ARITHMETIC = re.compile(
    r"^\s*(?:what(?:'?s| is)|how much is|calculate|compute|and what is|what do you get for)?\s*-?\d[\d.,]*\s*"
    r"(?:[-+*/x×^%]|times|plus|minus|divided by|multiplied by|over|to the power of|percent of|% of)\s*-?\d"
)
SUM_ANYWHERE = re.compile(
    r"(?<![\w.])-?\d+(?:\.\d+)?\s*(?:[-+*×^]|times|plus|minus|divided by|multiplied by|to the power of)\s*-?\d"
    r"|(?<![\w.])\d+(?:\.\d+)? (?:squared|cubed)\b|\bsquare root of \d"
)
FAREWELL = re.compile(
    r"\b(?:logging off|signing off|log off|gotta go|got to go|heading out|heading off|see ya|see you|good ?night|"
    r"talk (?:to you )?(?:later|soon|tomorrow)|catch you later|bye|goodbye|have a good (?:one|day|night|evening))\b"
)
# Words that ask for a run, a change, a search or a listing: a request with none of them about a
# file it names is answered from that file.
RUN_WORDS = re.compile(
    r"\b(?:(?:re)?run|runs|running|execute|launch|start|try|pass|passes|passing|fail|fails|failing|failure|"
    r"broken|output|print|prints|compute|checksum|hash|sha\d*|md5)\b"
)
SEARCH_WORDS = re.compile(
    r"^\s*(?:please |can you |could you )?(?:find|search|grep|locate|look for)\b"
    r"|\b(?:anywhere|everywhere|hard-?coded)\b|\bwhere(?:'s| is| are| do| does| did)\b"
    r"|\b(?:which|what) (?:files?|tests?|functions?|modules?|places?|classes?|methods?)\b"
    r"|\b(?:which|what|who|where)\b.*\b(?:uses?|used|using|calls?|called|imports?|imported|mentions?|mentioned"
    r"|pulls? in|pulled in)\b"
    r"|^\s*(?:is there )?(?:anything|any code|any file|anyone|something)\b.*\b(?:uses?|using|calls?|calling|imports?|"
    r"importing|mentions?|mentioning|reads?|reading)\b"
)
# Words that make a request about a named file more than a read of it.
FIND_WORDS = re.compile(
    r"\b(?:anywhere|everywhere|find|search|look for|locate|grep|where|which lines?|occurrences?|uses?|used|"
    r"using|calls?|called|imports?|imported)\b"
)
USE_WORDS = re.compile(
    r"\b(?:uses?|used|using|calls?|called|imports?|imported|references?|referenced|mentions?|defined"
    r"|pulls? in|pulled in|pulling in)\b"
)
# "is truncate actually used by the app, or only by its test?": where it is used is a search (the 0.5B
# read the file that defines it)
USED_QUESTION = re.compile(
    r"^\s*(?:is|are|does|do)\s+(?:the\s+)?`?[\w.()]+`?\s+(?:function\s+)?(?:actually\s+|really\s+|even\s+|ever\s+|still\s+)?"
    r"(?:used|called|imported|referenced|use|call)\b"
)
IMPORT_WORDS = re.compile(r"\b(?:imports?|imported|importing|pulls? in|pulling in|pulled in)\b")
# whether tests pass: "which test is failing rn?", "are the tests green?", "the failing tests"
TESTS_STATE = re.compile(
    r"\b(?:tests?|test suite|suite)\b(?: (?:is|are|keeps?|still|currently|now|rn|that'?s|that is|that are))*"
    r" (?:fail\w*|broken|red|green|pass(?:es|ing)?)\b|\b(?:failing|broken|red) (?:tests?|suite)\b"
)
ANYWHERE = re.compile(r"\b(?:anywhere|everywhere|hard-?coded|any (?:other )?(?:file|place)s?)\b")
PROJECT_FACT = re.compile(r"(?<![\w-])--[a-z][\w-]*")  # an option of the project's command line
VERSION = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.])")
RELEASE = re.compile(r"\b(?:ship|ships|shipped|release|released|releases|due|version|changelog)\b")
SEARCH_FIRST = re.compile(r"^\s*(?:please |can you |could you )?(?:find|search|grep|locate|look for)\b")
LIST_WORDS = re.compile(
    r"^\s*ls\s*$|\b(?:structure|layout|tree|top[- ]level|list (?:all |the |my )*(?:files|everything)"
    r"|(?:which|what|how many|any) (?:[\w.-]+ )?(?:files|folders|directories|scripts)"
    r" (?:are|do|does|exist|i have|there|in|sit)"
    r"|top (?:folder|directory)|root (?:folder|directory)"
    r"|(?:do (?:we|i|you) have|is there|are there|got) (?:an? |any )?[\w.-]+ (?:folders?|directory|directories|dirs?)"
    r"|(?:which|what) files (?:are )?(?:in|here)|is there an? [\w-]+\.\w+|have an? [\w.-]+ file"
    r"|what'?s (?:in|inside) (?:this|the|my|our) (?:folder|project|repo|repository|directory|workspace)"
    r"|what'?s (?:in|inside) (?:the |my |our )?[\w./-]+ (?:folder|directory|dir|package))\b"
)
NAMED_FOLDER = re.compile(r"\b(?:in|inside|under|of) (?:the |my |our )?([\w./-]+) (?:folder|directory|dir|package)\b")
COMMAND_WORDS = (
    "python", "python3", "pytest", "make", "git", "ls", "cat", "echo", "pip", "pip3", "uv", "node", "npm",
    "npx", "bash", "sh", "ruff", "mypy", "wc", "du", "df", "date", "grep", "head", "tail", "find", "env",
)  # fmt: skip
RUN_LEAD = re.compile(rf"^\s*{LEAD_IN}(?:re)?(?:run|execute)\s+(?:the command\s+)?")
COMMAND_END = re.compile(
    r"\s+(?:and|then|,)\s+(?:tell|show|report|give|say|see|check|let|print|explain)\b.*$|[\s.?!]+$"
)
BACKTICKED = re.compile(r"`([^`\n]{2,200})`")
# "the run target", "pass --people": words that look like a run and are not
NOT_RUN = re.compile(
    r"\b[\w-]+`?\s+(?:target|recipe|rule)\b|\bpass(?:es|ed)?\s+(?:--\S+|-\w\b|an?\b|the\b|it\b|in\b|no\b)"
)
MAKE_TARGET = re.compile(r"\bmake\s+([\w-]+)|\b([\w-]+)\s+(?:target|recipe|rule)\b")
APP_RUN = re.compile(
    r"\b(?:run|runs|running|start|starting|launch|launching|try) (?:the |my |our |this )?"
    r"(?:app|application|program|cli|tool)\b"
    # "what does tipcalc come up with for 99.99 split two ways": what the program gives for an input
    r"|\bwhat (?:does|would|will) (?:the |my |our |this )?[\w-]+ (?:come up with|give|print|output|say|show|return|do"
    r"|spit out|make of) (?:for|with|on|if)\b(?=.*\d)"
)
# Questions about the machine or the repository's state, answered by a command.
GIT_ASKED = re.compile(
    r"\bgit (?:status|log|diff|branch)\b|\b(?:current|which|what) branch\b|\buncommitted\b|\bcommit (?:log|history)\b"
    r"|\b(?:last|latest|recent) commits?\b|\bchanged since\b"
)
GIT_COMMANDS = ("git status", "git branch --show-current", "git log --oneline -10", "git diff --stat")
VERSION_ASKED = re.compile(
    r"\bversion\b.*\b(?:installed|available|on this machine|do (?:we|i) have|am i (?:running|using)|is running)\b"
    r"|\b(?:installed|available)\b.*\bversion\b"
)
DISK_ASKED = re.compile(
    r"\bdisk (?:space|usage)\b|\bhow (?:big|large) is (?:this|the|my|our) (?:folder|project|directory|repo)\b"
    r"|\bsize of (?:this|the|my|our) (?:folder|project|directory|repo)\b|\bhow much space\b"
)
VERBOSE = re.compile(r"\bverbose(?:ly)?\b|\bin detail\b|\bevery test\b")
LINTER = re.compile(r"\b(ruff|black|mypy|flake8|pylint|isort)\b")
LINT_ASKED = re.compile(
    r"\b(?:check|checks|run|lint|format|formatted|complain|complains|pass|passes|clean|errors?|"
    r"warnings?|happy|wants?|says?)\b"
)
LINT_COMMANDS = {  # checks only: none of these changes a file
    "ruff": ("ruff format --check {}", "ruff format --diff {}", "ruff check {}"),
    "black": ("black --check {}", "black --diff {}"),
    "mypy": ("mypy {}",),
    "flake8": ("flake8 {}",),
    "pylint": ("pylint {}",),
    "isort": ("isort --check-only {}", "isort --diff {}"),
}
LINES_ASKED = re.compile(r"\bhow many lines\b(?!.*\b(?:in|of) (?:the |this |that )?(?:file|function)\b)")
DATE_ASKED = re.compile(
    r"\btoday'?s date\b|\bwhat (?:day|date|time) is it\b|\bcurrent (?:date|time)\b|\btime ?zone\b"
    r"|\b(?:date|time)\b.*\b(?:on this machine|on the machine|here|now)\b"
)
MEMORY_ASKED = re.compile(
    r"\b(?:ram|memory)\b.*\b(?:free|available|left|used|have|installed|total)\b|\b(?:free|available) (?:ram|memory)\b"
)
INTERPRETER_ASKED = re.compile(
    r"\bwhere(?:'s| is)\b.*\b(?:python|interpreter)\b|\bpath (?:to|of) (?:the )?python\b"
    r"|\bpython (?:executable|binary|interpreter)\b"
)
# A question about how things are done in general, or about a tool's options: knowledge, not the
# workspace ("in general, how do people lay out the tests folder?" listed tests/; "whats the pytest
# flag to stop at the first failure" ran the suite)
GENERAL = re.compile(
    r"\b(?:in general|generally|usually|typically|normally|conventionally|best practices?|common practice"
    r"|how do (?:people|developers|most projects|you usually))\b"
    r"|\bwhat(?:'?s| is| are)? the (?:[\w-]+ ){0,3}(?:flag|option|switch|syntax|shortcut|keyword) (?:to|for|that)\b"
    # "side question, why does make insist on tabs instead of spaces?" (the 0.5B read the README)
    r"|^\s*(?:a |one )?(?:side|random|general|unrelated|off-topic|off topic) question\b"
    # "does python's round() send 2.5 up to 3?": the language's own (the 0.5B read the notes)
    r"|\bpython'?s (?:own |built-?in |standard )?`?(?!(?:version|file|path|package|executable|interpreter)s?\b)[a-z_]"
)
ABSTRACT = re.compile(
    r"\b(?:in general|generally speaking|as a rule|in general terms)\b"
    r"|^\s*in (?:pytest|python|semver|git|pip|unittest|make|toml|markdown)\b"
    r"|\b(?:supposed|meant) to (?:mean|signal|signify)\b"
)
# An edit about a name whose target may not be the file defining it: a test of it, a place to find
# first ("somewhere the command line defaults the tip to 18": not settings.toml's [defaults]), more
# of what the last turn made
NOT_DEFINITION_EDIT = re.compile(
    r"\b(?:tests?|tested|checks?|find|search|locate|somewhere|where|track (?:it |them )?down|look for"
    r"|one more|another|it|that|those|them|one|there)\b"  # words that may point at the last turn's file
)
# A sum in words: "if a dinner costs 84.50 and we tip 15%, what's the total? just do the math"
MATH_ASKED = re.compile(
    r"\b(?:do the math|work it out|what'?s the total|how much (?:is|would|will) (?:that|it|the total))\b"
    r"|\bquick maths?\b|\bmaths?\s*[:?]"
)
# A thing to make that a command names: "I'd like a `make check` target that runs lint" is no run
CREATE_WANTED = re.compile(r"\b(?:i'?d like|i want|i need|add|create|write|define|set up)\b (?:a|an|another|new)\b")
# "is git even installed on this machine?" (the 0.5B globbed for "git" in tests/)
INSTALLED_ASKED = re.compile(
    r"\b(?:is|are|do (?:we|i|you) have|have (?:we|i) got|got)\s+([a-z][\w.+-]*)\s+(?:\w+\s+)?"
    r"(?:installed|available|on (?:this|the) (?:machine|box|system|computer|path))\b"
)
NOT_PROGRAMS = frozenset(["the", "a", "an", "it", "this", "that", "my", "our", "your", "there", "any", "we", "i"])
# "do any of our tests use parametrize?": a search for what they would use (the 0.5B ran the tests)
SEARCH_QUESTION = re.compile(
    r"\b(?:do|does|did|is|are) (?:any|all|some|none|either|anything|something|anyone|anybody) (?:of )?"
    r"(?:the |our |my |these |those |this )?"
    r"(?:[\w-]+ ){0,3}(?:use|uses|call|calls|import|imports|mention|mentions|reference|references|contain|contains"
    r"|read|reads|load|loads|open|opens|define|defines|have|has|set|sets|raise|raises)"
    r"\s+(?:the |a |an |any )?`?([\w.@-]+)"
)
# "What exactly gets deleted when I do make clean?": a question about a target is read, not run
MAKE_QUESTION = re.compile(r"^\s*(?:what|which|how|why|does|do|is|will|would|when)\b|\?\s*$")
SYSTEM_ASKED = re.compile(r"\b(?:operating system|which os|what os|kernel version|how many (?:cpus?|cores))\b")
_STOP_WORDS = (
    "a an the and or of to in on at by for with from into is are was were be been do does did done have has "
    "had i me my we our you your it its this that these those there here what which where who whom whose when "
    "why how any some all each every no not is are can could would should will shall may might must please "
    "actually something really basically just "
    "tell show find search look locate grep anywhere everywhere hard coded hardcoded file files function "
    "functions method methods class classes module modules code project folder test tests place places line "
    "lines use uses used using call calls called import imports imported mention mentions mentioned reference "
    "references referenced contain contains string word take takes argument arguments parameter parameters "
    "defined define set written thing things one ones somewhere still about just only also out up so if than"
    # Python has no "throw": "find where we throw the error about needing at least one person" grepped it
    " throw throws thrown throwing"
)
STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Ask:
    """What the first call may be: these tools, and for some of their arguments only these values."""

    tools: tuple[str, ...]
    why: str
    only: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # tool -> (argument, values)
    firm: bool = False  # the words settle it: the first-step classifier is not asked
    # tool -> (argument, prefixes): the argument starts with one of these, the model writes the rest
    starts: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


THANKS = re.compile(
    r"^\s*(?:thanks|thank you|thx|ty|cheers|great|perfect|awesome|brilliant|nice|cool|ok|okay|appreciate it|"
    r"much appreciated|appreciated)\b[,.!]*\s+"
    r"(?:that'?s|this is|it'?s|that was|this was|exactly|just|so|very|really|you'?re|you|works?|worked)\b"
)
ASKS_MORE = re.compile(r"\?|\b(?:now|but|also|next|then|and|can|could|please|would|will)\b")
# "morning! ready to get some work done?": a greeting, then chat that names no work (the 0.5B's call
# probability was 0.93, and it ran the test suite)
GREETING_LEAD = re.compile(
    r"^\s*(?:hi|hello|hey|heya|hiya|yo|howdy|hallo|morning|good (?:morning|afternoon|evening)|afternoon|evening)\b"
    r"(?: there| all| everyone| folks)?\s*[!,.]+\s*"
)
CHAT_ONLY = re.compile(
    r"^(?:(?:are )?(?:you )?(?:ready|up|around|there|awake|free|good|well|ok|okay)\b|how (?:are|is|was)\b"
    r"|how'?s (?:it|things|your|life)\b|what'?s up\b|long time\b|nice to\b|good to\b|hope you\b)"
)
WORK_WORDS = re.compile(
    r"\b(?:file|files|code|test|tests|bug|bugs|fix|project|repo|function|module|error|readme|makefile|todo"
    r"|notes?|branch|commit|run|build|deploy|review)\b|[/\\.]\w"
)


# a message taken back: nothing to do
NOTHING_MORE = re.compile(
    r"\b(?:nothing (?:(?:else |more )?to (?:change|do|fix|add)|more|else) (?:there |here |then |for now )*"
    r"(?:then|thanks|thank you|cheers)|no (?:changes?|need|edits?) (?:needed|then|there)"
    r"|that'?s all(?: for now)?[,.! ]+(?:thanks|thank you|cheers))\b"
)
RETRACTED = re.compile(
    r"\b(?:ignore (?:me|that|this)|never ?mind|nvm|disregard (?:me|that|this)|wrong (?:window|chat|tab|person)"
    r"|sent (?:that|this) by mistake|didn'?t mean to send)\b"
)


def is_small_talk(text: str) -> bool:
    """A greeting, thanks or goodbye and nothing else ("hi", "thanks!", "bye for now",
    "cheers, that's exactly what I needed").

    Measured on the 0.5B model in a project folder: "hi" gave a 0.6 probability of starting a call
    (it reads the README), so the probability cannot tell these apart; the words can.
    """
    if re.search(r"[/\\.]\w", text):
        return False
    words = re.findall(r"[a-z']+", text.lower())
    if 0 < len(words) <= 6 and all(w in SMALL_TALK for w in words):
        return True
    low = " ".join(text.lower().split())
    lead = GREETING_LEAD.match(low)
    if lead and len(words) <= 12 and CHAT_ONLY.match(low[lead.end() :]) and not WORK_WORDS.search(low):
        return True
    if len(words) <= 14 and FAREWELL.search(low) and "?" not in low and not RUN_WORDS.search(low):
        return True
    if len(words) <= 10 and RETRACTED.search(low) and "?" not in low and not WORK_WORDS.search(low):
        return True  # "oops, wrong window - ignore me" (the 0.5B read the meeting notes)
    if len(words) <= 14 and NOTHING_MORE.search(low) and "?" not in low and not RUN_WORDS.search(low):
        return True  # "ok cool, nothing to change there then. thanks" (the 0.5B read the file again)
    return len(words) <= 12 and bool(THANKS.search(low)) and not ASKS_MORE.search(low.split(None, 1)[-1])


def is_arithmetic(text: str) -> bool:
    """A sum to work out ("What is 17 times 23?", "quick one: 7 cubed minus 43?"): the 0.5B listed and
    read files for it. Not when a file is named ("what is 2 * 3 in calc.py")."""
    low = " ".join(text.lower().split())
    if re.search(r"\w\.[a-z]{1,5}\b|/", low.replace("/ ", " ")):
        return False
    # a date or a version is no sum ("put the release date 2024-04-20 on the 0.3.1 heading": answered as one)
    low = re.sub(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\bv?\d+\.\d+\.\d+\b", " ", low)
    if MATH_ASKED.search(low) and len(re.findall(r"\d+(?:\.\d+)?", low)) >= 2:
        return True
    return bool(ARITHMETIC.search(low) or SUM_ANYWHERE.search(low))


def is_general(text: str) -> bool:
    """A question about how things are usually done, or about a tool's options (knowledge)."""
    low = " ".join(text.lower().split())
    return bool(GENERAL.search(low) or ABSTRACT.search(low))


def is_abstract(text: str) -> bool:
    """A question put in general terms even when it names a file the workspace has ("in general,
    what is conftest.py used for in pytest?" read tests/conftest.py; "in semver, what's a patch
    release supposed to mean, like going from 0.3.0 to 0.3.1?" grepped the version)."""
    return bool(ABSTRACT.search(" ".join(text.lower().split())))


def literal_command(request: str) -> str | None:
    """The command a request spells out: "run python -m tipcalc 50 --people 2 and tell me...", "run `make lint`"."""
    low = request.lower()
    ticked = BACKTICKED.search(request)
    if ticked and RUN_WORDS.search(low) and ticked.group(1).split()[0] in COMMAND_WORDS:
        return ticked.group(1).strip()
    lead = RUN_LEAD.match(low)
    if lead is None:
        return None
    rest = COMMAND_END.sub("", request[lead.end() :].strip())
    words = rest.split()
    if not words or (words[0] not in COMMAND_WORDS and not words[0].startswith(("./", ".venv/", "venv/"))):
        return None
    if len(words) > 1 and words[1].lower() in PROSE_AFTER_TOOL:
        return None  # "run ruff over the project and tell me ...": a tool named in words (it ran `ruff over ...`)
    return rest


# words after a command's name that make it prose, not a command line
_PROSE_WORDS = "over on against across through for the a an my our this that it everything all again please pls quickly"
PROSE_AFTER_TOOL = frozenset(_PROSE_WORDS.split())


def shell_commands(low: str, python: str) -> tuple[tuple[str, ...], str] | None:
    """The commands that answer a question about the machine or the repository's state, and why."""
    if GIT_ASKED.search(low):
        return GIT_COMMANDS, "asks about git"
    if VERSION_ASKED.search(low):
        names = [w for w in re.findall(r"[a-z][\w.-]*", low) if w in COMMAND_WORDS or w in ("pytest", "ruff")]
        tool = next((w for w in names if w not in ("python", "python3")), None)
        if tool is None:
            return (f"{python} --version",), "asks for Python's version"
        commands = (f"{python} -m {tool} --version", f"{tool} --version", f"{python} -m pip show {tool}")
        return commands, f"asks for {tool}'s version"
    if LINES_ASKED.search(low):
        return (
            "find . -name '*.py' -not -path './.*' | xargs wc -l",
            "git ls-files | xargs wc -l",
        ), "asks to count lines"
    if DISK_ASKED.search(low):
        return ("du -sh .",), "asks for disk use"
    if DATE_ASKED.search(low):
        return ("date",), "asks for the date"
    if MEMORY_ASKED.search(low):
        return ("free -h",), "asks about memory"
    if INTERPRETER_ASKED.search(low):
        return (
            "which python3",
            "which python",
            f"{python} -c 'import sys; print(sys.executable)'",
        ), "asks where Python is"
    if SYSTEM_ASKED.search(low):
        return ("uname -a", "nproc"), "asks about the machine"
    installed = INSTALLED_ASKED.search(low)
    if installed and installed.group(1) not in NOT_PROGRAMS:
        program = installed.group(1)
        checks = (f"which {program}", f"{program} --version", f"command -v {program}")
        return checks, f"asks whether {program} is installed"
    return None


def linter_commands(low: str, named_files: Sequence[str]) -> tuple[str, ...] | None:
    """Commands that ask a linter or formatter without changing anything: "is calc.py formatted the
    way ruff format wants?" -> ``ruff format --check calc.py``."""
    found = LINTER.search(low)
    if found is None or not LINT_ASKED.search(low):
        return None
    where = " ".join(named_files) or "."
    return tuple(c.format(where) for c in LINT_COMMANDS[found.group(1)])


KIND_PATTERNS = {"classes": "class ", "class": "class ", "functions": "def ", "methods": "def ",
                 "f-strings": 'f"', "f-string": 'f"'}  # fmt: skip
KIND_WORDS = frozenset([*KIND_PATTERNS, "define", "defined", "defines", "code", "codebase", "place", "places"])


ABBREVIATIONS = frozenset(["i.e", "e.g", "etc", "vs", "a.k.a", "aka", "n.b"])


EXCLUDED = re.compile(
    r"\b(?:outside(?: of)?|besides|other than|except(?: for| in)?|apart from|not in|beyond)\s+(?:the\s+)?`?[\w./-]+"
)


def search_terms(request: str, symbols: Sequence[str] = ()) -> list[str]:
    """What a search request looks for: quoted text, code-like names, else its distinctive words.
    A place it excludes ("is multiply used anywhere outside calc.py?") is not what it looks for."""
    request = EXCLUDED.sub(" ", request)
    terms = [a or b for a, b in QUOTED.findall(request)]
    terms += list(symbols)
    terms += re.findall(r"(?<![\w-])--[a-z][\w-]*", request)  # a command-line option: --people
    terms += re.findall(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.])", request)  # a version: 0.3.1
    for token in re.findall(r"[A-Za-z_][\w.]*(?:\(\))?", request):
        word = token.rstrip(".").removesuffix("()")
        code_like = (
            "_" in word
            or "." in word.strip(".")
            or token.endswith("()")
            or (len(word) >= 2 and word.isupper() and word.isalpha())
            or re.search(r"[a-z][A-Z]", word) is not None  # CamelCase: ValueError
        )
        if code_like and word.lower() not in STOP and word.lower() not in ABBREVIATIONS:
            terms.append(word)
    kinds = [KIND_PATTERNS[w] for w in re.findall(r"[a-z-]+", request.lower()) if w in KIND_PATTERNS]
    if not terms:
        for word in re.findall(r"[A-Za-z][A-Za-z-]{2,}", request):
            if word.lower() in STOP or word.lower() in SMALL_TALK or word.lower() in KIND_WORDS:
                continue
            if word.lower().endswith("ing") and len(word) > 6 and not word.lower().endswith("thing"):
                # "the test that covers dividing by zero": `divid` finds divide() and dividing (the 0.5B
                # grepped for "dividing" twice, ch9-001); "splitting" -> `split`
                stem = word[:-3]
                terms.append(stem[:-1] if len(stem) > 4 and stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem)
                continue
            terms.append(word)
            if word.endswith("ies") and len(word) > 4:
                terms.append(word[:-3] + "y")
            elif word.endswith("s") and not word.endswith("ss") and len(word) > 4:
                terms.append(word[:-1])
    if not terms and kinds:  # "do we define any classes anywhere?": their definitions
        terms = kinds
    return list(dict.fromkeys(terms))[:8]


def previous_files(messages: Sequence[dict[str, Any]], files: Sequence[str], place: bool = False) -> list[str]:
    """The workspace files the previous turn was about, most telling first.

    First those its answer names (the user replies to the answer: "now run just that file"), then
    the files its tool calls named (a read, an edit), then those its results mention, last mention
    first. "Make it 15" after "What's the default tip in settings.toml?" is about settings.toml.
    """
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        return []
    start = max((i for i, m in enumerate(messages[:last_user]) if m.get("role") == "user"), default=None)
    if start is None:
        return []
    known = set(files)
    by_base: dict[str, list[str]] = {}
    for rel in files:
        by_base.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
    answered: list[str] = []
    called: list[str] = []
    mentioned: list[str] = []
    for message in messages[start:last_user]:
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        for raw in _call_paths(text) + _native_paths(message):
            if (path := path_argument(raw)) in known:
                called.append(path)
        names = _mentions(text, known, by_base)
        (answered if message.get("role") == "assistant" else mentioned).extend(names)
    # "what's the most recent release in it?" after "is there a changelog in here?": the file the
    # previous request named by its stem comes first (the 0.5B's last read there was the todo list)
    said = set(re.findall(r"[a-z]\w+", previous_request(messages).lower()))
    spelled = [f for f in called[::-1] + answered + mentioned if _stem(f) in said]
    if place:  # "there": where the previous turn went (its calls), before what its answer mentions
        return list(dict.fromkeys(spelled + called[::-1] + answered + mentioned[::-1]))
    return list(dict.fromkeys(spelled + answered + called[::-1] + mentioned[::-1]))


def _stem(path: str) -> str:
    """``CHANGELOG.md`` -> ``changelog``; stems of fewer than four letters name nothing ("a.py")."""
    stem = path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    return stem if len(stem) >= 4 else ""


def _mentions(text: str, known: set[str], by_base: dict[str, list[str]]) -> list[str]:
    """Workspace files a text names, by path or by a base name only one file has, in order."""
    found = []
    for match in re.finditer(r"[\w./-]+\.\w+|\b[A-Z][A-Za-z]+file\b", text):
        word = normal_path(match.group(0))
        hits = [word] if word in known else by_base.get(word, [])
        if len(hits) == 1:
            found.append(hits[0])
    return found


def _call_paths(text: str) -> list[str]:
    """The arguments of the tool calls folded into a message's text."""
    return [arguments for _name, arguments in RESULT_BLOCK.findall(text)]


def _native_paths(message: dict[str, Any]) -> list[str]:
    return [str((c.get("function") or {}).get("arguments") or "") for c in message.get("tool_calls") or []]


def first_ask(request: str, named_files: Sequence[str], folders: Sequence[str], symbols: Sequence[str],
              defined_in: dict[str, set[str]], python: str, files: Sequence[str]) -> Ask | None:  # fmt: skip
    """The tools (and arguments) a request's first call may use, when its words make that plain."""
    low = " ".join(request.lower().split())
    if asks_edit(low):
        if named_files and not RUN_LEAD.match(low) and not SEARCH_FIRST.search(low):
            # "In the Makefile, make the run target use --people 4": the file first (the 0.5B ran it)
            return Ask(("read_file",), "asks to change " + named_files[0], {"read_file": ("path", tuple(named_files))})
        # a change of something only an option names ("pls make --people default to 2 in the CLI"):
        # where it is, first; else the search is the first clause's ("find X" of "find X and make it
        # use 25 'b's")
        if not named_files and (target := _make_target(low, defined_in)) is not None:
            # "make lint should check formatting as well": the Makefile, read to be edited (the 0.5B
            # read the README and edited it)
            return Ask(("read_file",), f"asks to change make {target[0]}", {"read_file": ("path", target[1])})
        option = not named_files and not symbols and PROJECT_FACT.search(request)
        clause = request if option else re.split(r"\s*(?:,|;|\band\b|\bthen\b)\s*", request, maxsplit=1)[0]
        in_clause = [s for s in symbols if s.lower() in clause.lower()]
        if (SEARCH_FIRST.search(low) or option) and (terms := search_terms(clause, in_clause)):
            if option:  # the option is what to find; quoted text is the new value ("give --tip a help string: 'x'")
                terms = [t for t in terms if t.startswith("-")] or terms
            # "find the truncate test and make it use 25 'b's": the search first (the 0.5B grepped
            # for "truncate test" in files named "b")
            return Ask(("grep",), "asks to find " + terms[0] + " first", {"grep": ("pattern", tuple(terms))})
        defining = sorted({f for s in in_clause or symbols for f in defined_in.get(s, ())})
        if defining and len(defining) <= 2 and not NOT_DEFINITION_EDIT.search(low):
            # "so drop the language setting": the file that defines it, read to be edited
            return Ask(("read_file",), f"asks to change {(in_clause or symbols)[0]}, defined in {defining[0]}",
                       {"read_file": ("path", tuple(defining))})  # fmt: skip
        return None  # the edit rules decide what comes next
    if (patterns := _as_typed(exists_patterns(low), request)) and (
        not named_files or any(p.startswith("*") for p in patterns)
    ):
        # "is there a tox.ini or noxfile anywhere?", "any .txt files apart from my todo list?": whether
        # files exist is a glob (the 0.5B grepped for 'tox.ini' and read the todo list), a kind of file
        # even when the request names one to leave out
        return Ask(("glob",), "asks whether " + patterns[0] + " exists", {"glob": ("pattern", patterns)}, firm=True)
    if (search := SEARCH_QUESTION.search(low)) and search.group(1).lower() not in STOP:
        term = request[search.start(1) : search.end(1)]
        return Ask(("grep",), "asks whether anything uses " + term, {"grep": ("pattern", (term,))})
    if (about := _make_question(low, defined_in)) is not None:
        return Ask(("read_file",), f"asks about make {about[0]}", {"read_file": ("path", about[1])})
    # "make the run target use --people 4" asks for no run; "find where X is tested and run it" searches first
    run = (
        bool(RUN_WORDS.search(NOT_RUN.sub(" ", low)) or APP_RUN.search(low) or TESTS_STATE.search(low))
        and not SEARCH_FIRST.search(low)
        and not CREATE_WANTED.search(low)
    )
    ask = _run_ask(request, low, named_files, defined_in, python, files) if run else None
    if ask is not None:
        return ask
    if (checks := linter_commands(low, named_files)) is not None:
        return Ask(("run_command",), "asks what a linter says", {"run_command": ("command", checks)})
    if not named_files and (shell := shell_commands(low, python)) is not None:
        return Ask(("run_command",), shell[1], {"run_command": ("command", shell[0])})
    if run and not SEARCH_WORDS.search(low):
        return None  # other runs: the model's choice ("which modules can be run directly" searches)
    # "see what's at the top level and open the file that has the licence text": the listing first, as
    # asked, though the request names the file it opens next
    list_first = bool(LIST_THEN_OPEN.search(low)) and bool(LIST_WORDS.search(LIST_THEN_OPEN.split(low, 1)[0]))
    if LIST_WORDS.search(low) and not symbols and (not (named_files and not folders) or list_first):
        found = NAMED_FOLDER.search(low)
        dirs = {f.rstrip("/") for f in folders} | ({found.group(1).strip("/")} if found else set())
        if not dirs:  # "What test files do we have?": the tests/ folder, when there is one
            kinds = re.findall(r"\b([a-z]+) files\b", low)
            dirs = {d for k in kinds for d in (k, k + "s") if any(f.startswith(d + "/") for f in files)}
        paths = tuple(sorted(d for d in dirs if d + "/" in folders or any(f.startswith(d + "/") for f in files)))
        return Ask(("list_files", "glob"), "asks what files there are", {"list_files": ("path", paths or (".",))},
                   firm=list_first)  # fmt: skip
    return _search_or_read(request, low, named_files, folders, symbols, defined_in)


def _run_ask(request: str, low: str, named_files: Sequence[str], defined_in: dict[str, set[str]], python: str,
             files: Sequence[str]) -> Ask | None:  # fmt: skip
    """A run the words spell out: a command, a Makefile target, the tests."""
    command = literal_command(request)
    if command is not None:
        words = command.split()
        if words[0] == "python" and python != "python" and shutil.which("python") is None:
            command = " ".join([python, *words[1:]])  # no `python` on this machine: the workspace's own
        return Ask(("run_command",), "spells out a command", {"run_command": ("command", (command,))})
    makefile = {s for s, where in defined_in.items() if any(w.rsplit("/", 1)[-1] == "Makefile" for w in where)}
    bare = bool(NO_ARGUMENTS.search(low))
    given = bool(re.search(r"\d|--", low))
    packages = [f.split("/", 1)[0] for f in files if f.endswith("/__main__.py") and f.count("/") == 1]
    named_app = any(re.search(rf"\b(?:run|try|launch|start)\s+{re.escape(p.lower())}\b", low) for p in packages)
    if (APP_RUN.search(low) or named_app) and given and not re.search(r"\bmakefile\b|\bexample\b", low):
        # "what does the program print for a 60 bill, 3 people, 20 percent tip": the model writes the
        # command's arguments (held to the run target, it ran the Makefile's own example), after the
        # app's own command (left free, it ran `python tipcalc.py --people 0`, a file that does not exist)
        heads = _app_commands(set(), files, python, arguments=False)
        starts = {"run_command": ("command", tuple(f"{h} " for h in heads))} if heads else {}
        return Ask(("run_command",), "asks what the app gives for an input", starts=starts)
    if APP_RUN.search(low) and (app := _app_commands(makefile, files, python, given, bare)):
        # "run the app on the Makefile's example bill": its run target, or its package (the 0.5B ran
        # `make bill`, a target that does not exist)
        return Ask(("run_command",), "asks to run the app", {"run_command": ("command", app)})
    said = set(re.findall(r"[\w-]+", low))
    targets = [m.group(1) or m.group(2) for m in MAKE_TARGET.finditer(low)]
    targets += sorted(t for t in makefile & said if t not in ("run", "all", "test", "tests"))
    target = next((t for t in targets if t in makefile), None)
    if target is not None:
        return Ask(("run_command",), f"asks to run make {target}", {"run_command": ("command", (f"make {target}",))})
    subjects = [f for f in files if _subject(f) and re.search(rf"\b{re.escape(_subject(f))}\b(?!\.)", low)]
    named_tests = [f for f in named_files if _subject(f)]
    if TEST_WORD.search(low) or subjects or named_tests:
        tests = [*named_tests, *_named_tests(named_files, files), *subjects]
        commands = test_commands(low, TurnState([], set()), files, tests, python, about_tests=True)
        if VERBOSE.search(low):  # "with verbose output": pytest's -v instead of -q
            commands = tuple(c.replace(" -q", " -v") for c in commands)
        if commands:
            # "which test is failing rn?": only a run can tell (the classifier grepped for "failing")
            return Ask(("run_command",), "asks to run the tests", {"run_command": ("command", commands)},
                       firm=bool(TESTS_STATE.search(low)))  # fmt: skip
    return None


def _search_or_read(request: str, low: str, named_files: Sequence[str], folders: Sequence[str],
                    symbols: Sequence[str], defined_in: dict[str, set[str]]) -> Ask | None:  # fmt: skip
    """A search for what the request looks for, or a read of the one file it is about."""
    stems = [f.rsplit("/", 1)[-1].split(".", 1)[0] for f in named_files if f.endswith(".py")]
    stems = stems if IMPORT_WORDS.search(low) else []
    if (symbols or stems) and USE_WORDS.search(low) and (SEARCH_WORDS.search(low) or USED_QUESTION.search(low)):
        found = tuple(dict.fromkeys([*symbols, *stems]))
        return Ask(("grep",), "asks where " + found[0] + " is used", {"grep": ("pattern", found)})
    named_nothing = not named_files and not symbols and not folders
    if named_nothing and (PROJECT_FACT.search(request) or (VERSION.search(request) and RELEASE.search(low))):
        # "if I don't pass --people, how many people...", "when is version 0.4 supposed to ship?"
        terms = search_terms(request)
        return Ask(("grep",), "asks about " + terms[0], {"grep": ("pattern", tuple(terms))})
    if SEARCH_FIRST.search(low) or ANYWHERE.search(low) or (named_nothing and SEARCH_WORDS.search(low)):
        terms = search_terms(request, symbols)
        if terms:
            return Ask(("grep",), "asks to search for " + terms[0], {"grep": ("pattern", tuple(terms))})
    if FIND_WORDS.search(low) or LIST_WORDS.search(low):
        return None
    if named_files:
        return Ask(("read_file",), "mentions " + named_files[0], {"read_file": ("path", tuple(named_files))})
    if SEARCH_WORDS.search(low):
        return None
    if symbols and not folders:
        where = defining_files(symbols, defined_in, low)
        if where:
            why = f"names {symbols[0]}, defined in {where[0]}"
            return Ask(("read_file",), why, {"read_file": ("path", tuple(where))})
    return None


EXISTS_ASKED = re.compile(
    r"^\s*(?:(?:so|and|also|hey|quick one|quick question|btw)[,:]?\s+)*"
    r"(?:is there|are there|any|have we got|do (?:we|i|you) have|got|does (?:this|the) (?:project|repo) have)\b"
)
# ".txt files", "yaml files", "json or yaml files"
FILE_TYPE = re.compile(r"(?<![\w/])\.?([a-z0-9]{1,8})(?:,? (?:or|and) \.?([a-z0-9]{1,8}))? files?\b")
FILE_NAME = re.compile(r"(?<![\w/.-])([\w-]+\.(?:ini|cfg|toml|txt|md|py|json|ya?ml|lock|rst|in|sh|env))\b"
                       r"|\b(noxfile|dockerfile|makefile|procfile|justfile|vagrantfile|gemfile)\b")  # fmt: skip
FILE_KINDS = {k: k for k in ("txt", "md", "py", "toml", "json", "yaml", "yml", "ini", "cfg", "csv", "sh", "rst")}
FILE_KINDS.update(python="py", markdown="md", text="txt", shell="sh")
NAMED_FILES = {"dockerfile": "Dockerfile*", "makefile": "Makefile", "procfile": "Procfile", "gemfile": "Gemfile",
               "vagrantfile": "Vagrantfile", "justfile": "justfile", "noxfile": "noxfile*"}  # fmt: skip


LIST_THEN_OPEN = re.compile(r"\b(?:and|then)\s+(?:then\s+)?(?:open|read|show me|cat|print)\b")


def _as_typed(patterns: tuple[str, ...], request: str) -> tuple[str, ...]:
    """The patterns as the request spells them (a glob is case-sensitive: "MANIFEST.in", not "manifest.in")."""
    out = []
    for pattern in patterns:
        found = re.search(re.escape(pattern), request, re.IGNORECASE)
        out.append(found.group(0) if found else pattern)
    return tuple(out)


def exists_patterns(low: str) -> tuple[str, ...]:
    """The glob patterns of a question whether files exist ("is there a tox.ini or noxfile anywhere?":
    tox.ini, noxfile*; "any .txt files?": *.txt); () for any other request."""
    if not EXISTS_ASKED.search(low):
        return ()
    found = [f"*.{FILE_KINDS[kind]}" for m in FILE_TYPE.finditer(low) for kind in m.groups() if kind in FILE_KINDS]
    found += [m.group(1) or NAMED_FILES[m.group(2)] for m in FILE_NAME.finditer(low)]
    return tuple(dict.fromkeys(found))


def defining_files(symbols: Sequence[str], defined_in: Mapping[str, set[str]], low: str = "") -> list[str]:
    """The files defining any of ``symbols``; for "the truncate test" (``low``, the request), the files
    defining its tests (``test_truncate...``) when there are some (the 0.5B, asked what the truncate test
    uses, was sent to textutils.py, which defines truncate)."""
    if WANTS_TESTS.search(low):
        prefixes = tuple(f"test_{s.lower()}" for s in symbols)
        tests = sorted({f for name, where in defined_in.items() if name.lower().startswith(prefixes) for f in where})
        if tests:
            return tests
    return sorted({f for s in symbols for f in defined_in.get(s, ())})


def _make_question(low: str, defined_in: dict[str, set[str]]) -> tuple[str, tuple[str, ...]] | None:
    """A question about what a Makefile target does ("what gets deleted when I do make clean?"):
    the target and the Makefiles that define it (reading is safe; running `make clean` is not)."""
    if not MAKE_QUESTION.search(low) or RUN_LEAD.match(low) or RUN_WORDS.search(MAKE_TARGET.sub(" ", low)):
        return None  # "What does make run print?" asks for its output: a run
    return _make_target(low, defined_in)


def _make_target(low: str, defined_in: dict[str, set[str]]) -> tuple[str, tuple[str, ...]] | None:
    """The first Makefile target the request names ("make clean", "the lint target") and the Makefiles
    that define it."""
    for found in MAKE_TARGET.finditer(low):
        target = found.group(1) or found.group(2)
        where = sorted(w for w in defined_in.get(target, ()) if w.rsplit("/", 1)[-1] == "Makefile")
        if where:
            return target, tuple(where)
    return None


NO_ARGUMENTS = re.compile(r"\b(?:no|without|zero|empty) (?:args|arguments|options|flags|parameters|input)\b")


def app_commands(files: Sequence[str], python: str) -> tuple[str, ...]:
    """The commands that run the project's app with arguments (`python -m tipcalc`)."""
    return _app_commands(set(), files, python, arguments=False, bare=True)


def _app_commands(makefile: set[str], files: Sequence[str], python: str, arguments: bool,
                  bare: bool = False) -> tuple[str, ...]:  # fmt: skip
    """How the project's app runs: its Makefile's run target, else (when the request gives no
    arguments, which a fixed command could not pass) a package's __main__.py or a main.py.
    ``bare``: asked to run it with no arguments (a run target passes its own)."""
    found = ["make run"] if "run" in makefile and not bare else []
    if found or arguments:
        return tuple(found)
    found += [f"{python} -m {f[: -len('/__main__.py')].replace('/', '.')}" for f in files
              if f.endswith("/__main__.py") and f.count("/") == 1]  # fmt: skip
    found += [f"{python} {f}" for f in files if f in ("main.py", "app.py", "cli.py")]
    return tuple(found)


def _subject(path: str) -> str:
    """What a test file tests: tests/test_calc.py -> calc ("" for other files)."""
    base = path.rsplit("/", 1)[-1]
    if not base.endswith(".py"):
        return ""
    stem = base[:-3]
    return stem[5:] if stem.startswith("test_") else stem[:-5] if stem.endswith("_test") else ""


def _named_tests(named_files: Sequence[str], files: Sequence[str]) -> list[str]:
    """The test files of the files named: calc.py -> tests/test_calc.py."""
    stems = {f.rsplit("/", 1)[-1][:-3] for f in named_files if f.endswith(".py") and not _subject(f)}
    return [f for f in files if _subject(f) and _subject(f) in stems]
