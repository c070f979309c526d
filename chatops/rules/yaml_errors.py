"""YAML syntax errors of a rules file as RulesProblems, said in Japanese as well as English.

PyYAML (and libyaml under it, which words some errors differently) reports a problem and
what it was doing ("while parsing a flow mapping") in English sentences. Each known sentence
maps to a string of its own, `rules.yaml.<key>` and `rules.yaml.while.<key>`; the English
rendering also keeps PyYAML's own words, which name the exact character or token.
"""

from __future__ import annotations

import re

from chatops.rules.problems import RulesProblem, in_english

# (pattern of PyYAML's or libyaml's problem sentence, key); the first that matches wins.
_PROBLEMS = [
    (r"found character .*that cannot start any token", "cannot_start_token"),
    (r"found unexpected end of stream", "unexpected_end"),
    (r"mapping values are not allowed (here|in this context)", "mapping_value_here"),
    (r"mapping keys are not allowed here", "mapping_key_here"),
    (r"could not find expected ':'", "no_colon"),
    (r"did not find expected ',' or '\]'|expected ',' or '\]', but got", "unclosed_sequence"),
    (r"did not find expected ',' or '}'|expected ',' or '}', but got", "unclosed_mapping"),
    (r"did not find expected '-' indicator", "indentation"),
    (r"did not find expected key|expected <block end>, but found", "indentation"),
    (r"did not find expected node content|expected the node content", "no_value"),
    (r"did not find expected <document start>|expected '<document start>'", "no_document_start"),
    (r"but found another document", "several_documents"),
    (r"found undefined alias", "undefined_alias"),
    (r"second occurrence", "duplicate_anchor"),
    (r"could not determine a constructor for the tag", "unknown_tag"),
    (r"found undefined tag handle|duplicate tag handle|expected non-empty name appended to the tag", "bad_tag"),
    (r"found unknown directive name|found duplicate %?YAML directive|found incompatible YAML document"
     r"|while scanning a directive", "bad_directive"),
    (r"found unknown escape character|expected escape sequence", "bad_escape"),
    (r"indentation indicator", "block_scalar_indent"),
    (r"alphabetic or numeric character", "bad_name"),
    (r"found unhashable key", "unhashable_key"),
    (r"for merging", "bad_merge"),
    (r"expected a (mapping|sequence|scalar) node", "wrong_node"),
]
_CONTEXTS = [
    (r"while scanning a simple key", "key"),
    (r"quoted scalar", "quoted"),
    (r"while parsing a block mapping|while constructing a mapping|while composing a mapping", "mapping"),
    (r"while parsing a block collection", "list"),
    (r"while parsing a flow sequence", "flow_sequence"),
    (r"while parsing a flow mapping", "flow_mapping"),
    (r"while scanning a block scalar", "block_scalar"),
    (r"while scanning an? (anchor|alias|tag)|while parsing a tag", "name"),
]
_COMPILED_PROBLEMS = [(re.compile(pattern), key) for pattern, key in _PROBLEMS]
_COMPILED_CONTEXTS = [(re.compile(pattern), key) for pattern, key in _CONTEXTS]


def yaml_problem(problem: str | None, context: str | None) -> RulesProblem:
    """The RulesProblem of one PyYAML MarkedYAMLError (its `problem` and `context` sentences)."""
    key = _match(_COMPILED_PROBLEMS, problem or "") or _match(_COMPILED_PROBLEMS, context or "") or "unknown"
    where = _match(_COMPILED_CONTEXTS, context or "")
    if where is None:
        detail = f"{problem} ({context})" if context else (problem or "")
        return RulesProblem("yaml_syntax", detail=in_english(detail), problem=RulesProblem(f"yaml.{key}"))
    return RulesProblem("yaml_syntax_in", detail=in_english(problem or ""), problem=RulesProblem(f"yaml.{key}"),
                        context=RulesProblem(f"yaml.while.{where}"))


def _match(patterns: list[tuple[re.Pattern[str], str]], sentence: str) -> str | None:
    return next((key for pattern, key in patterns if pattern.search(sentence)), None)
