# -*- coding: utf-8 -*-
"""Model, validation and planning of user mutations (pure, no server)."""
import datetime

import pytest

from ansible_collections.voipops.voip.plugins.module_utils import users as U
from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors, parse_yaml

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
PLAN = U.NumberPlan.from_data({"sites": {"ams": {"ranges": ["1000-1999"]}, "rtm": {"ranges": ["2000-2499"]}}})


def user(uid, ext, site="ams", cos="national", **kw):
    d = {"id": uid, "extension": ext, "site": site, "class_of_service": cos, "name": "User %s" % uid}
    d.update(kw)
    return U.canonical(d)


def errors_of(exc):
    return [(e.line, e.field, e.message) for e in exc.value.errors]


# ---------------------------------------------------------------- model
def test_until_must_be_absolute_utc():
    assert U.parse_until("2026-12-31T23:59:00Z")[0] == "2026-12-31T23:59:00Z"
    assert U.parse_until("2026-12-31 23:59Z")[0] == "2026-12-31T23:59:00Z"
    for bad in ("2026-12-31T23:59:00", "2026-12-31T23:59:00+01:00", "tomorrow", "2026-02-30T00:00:00Z"):
        with pytest.raises(ValueError):
            U.parse_until(bad)


def test_numberplan_rejects_overlap_and_bad_ranges():
    doc = parse_yaml("sites:\n  ams:\n    ranges: ['1000-1999']\n  rtm:\n    ranges: ['1500-2500', '30-2']\n", "np.yml")
    with pytest.raises(SourceErrors) as exc:
        U.NumberPlan.from_data(doc, path="np.yml")
    msgs = " | ".join(str(e) for e in exc.value.errors)
    assert "'30-2' is not a range" in msgs
    assert "overlaps" in msgs and "np.yml line 4" in msgs


# The separate number plan the lab had before it came from the estate (inventories/lab/numberplan.yml).
OLD_LAB_NUMBERPLAN = """\
sites:
  ams:
    ranges: ["1000-1099", "2000-2999"]
  rtm:
    ranges: ["3000-3999"]
"""


def test_the_number_plan_comes_from_the_estate_sites():
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    from_estate = U.NumberPlan.load(os.path.join(root, "inventories", "lab", "estate.yml"))
    old = U.NumberPlan.from_data(parse_yaml(OLD_LAB_NUMBERPLAN, "numberplan.yml"))  # the old format still works
    assert from_estate.sites == old.sites == {"ams": [(1000, 1099, 4), (2000, 2999, 4)], "rtm": [(3000, 3999, 4)]}
    assert from_estate.ranges_text("ams") == "1000-1099, 2000-2999"


def test_an_estate_number_plan_reports_bad_and_overlapping_extensions_at_their_line():
    text = ("sites:\n  - name: ams\n    extensions: ['1000-1999', '+31201234000-+31201234999']\n"
            "  - name: rtm\n    extensions:\n      - '1500-2500'\n      - '3999-3000'\n")
    with pytest.raises(SourceErrors) as exc:
        U.NumberPlan.from_data(parse_yaml(text, "estate.yml"), path="estate.yml")
    got = [(e.line, e.obj, e.field, e.message) for e in exc.value.errors]
    assert (3, "site 'ams'", "extensions",
            "+31201234000-+31201234999 is an E.164 range: extensions are local numbers (DIDs go in 'dids')") in got
    assert (7, "site 'rtm'", "extensions", "'3999-3000': start is above end") in got
    assert (5, "site 'rtm'", "extensions", "range 1500-2500 of site 'rtm' overlaps 1000-1999 of site 'ams'") in got


def test_yaml_desired_state_errors_name_file_line_field():
    text = """users:
  - id: E1
    extension: "1001"
    site: ams
    class_of_service: national
    aliases: ["+31-20-123", "+31201231001"]
  - id: E2
    extension: "2001"
    site: nowhere
    class_of_service: galactic
    features:
      - {name: cfu}
      - {name: teleport}
      - {name: dnd, until: "2020-01-01T00:00:00Z"}
"""
    data = parse_yaml(text, "users.yml")
    errors = U.ErrorCollector("users.yml")
    want = U.load_config(data, path="users.yml", errors=errors)
    got = [(e.line, e.field) for e in errors.errors]
    assert (6, "aliases") in got                      # bad E.164
    assert (10, "class_of_service") in got             # unknown class
    assert (12, "features.cfu.target") in got          # cfu without target
    assert (13, "features") in got                     # unknown feature
    assert len(want) == 0 or all(u["id"] != "E2" for u in want)


def test_batch_validation_reports_everything_at_once():
    have = [user("E9", "1009")]
    ctx = U.Context(have=have, cooling={"1050": {"until": "2026-05-01T00:00:00Z", "employee_id": "E77"}}, now=NOW)
    want = [
        dict(user("E1", "1001"), _line=3), dict(user("E2", "1001"), _line=9),           # duplicate extension
        dict(user("E3", "2600", site="rtm"), _line=15),                               # outside range
        dict(user("E4", "1050"), _line=20),                                           # cooling
        dict(user("E5", "1009"), _line=25),                                           # taken by existing E9
        dict(user("E6", "1006", site="xyz"), _line=30),                               # unknown site
        dict(user("E7", "1007", class_of_service_grant={"class_of_service": "international",
                                                        "until": "2026-01-01T00:00:00Z"}), _line=35),  # past
        dict(user("E1", "1011"), _line=40),                                           # duplicate id
    ]
    with pytest.raises(SourceErrors) as exc:
        U.validate_batch("merged", want, ctx, PLAN, path="users.yml")
    text = str(exc.value)
    assert "users.yml line 9, user 'E2': extension: number 1001 is already used by user 'E1'" in text
    assert "line 15, user 'E3': extension: extension 2600 is outside site rtm's range(s) 2000-2499" in text
    assert "line 20, user 'E4': extension: number 1050 is in cooling until 2026-05-01T00:00:00Z" in text
    assert "line 25, user 'E5': extension: number 1009 is already used by user 'E9'" in text
    assert "line 30, user 'E6': site: unknown site 'xyz'" in text
    assert "line 35, user 'E7': class_of_service_grant.until: until 2026-01-01T00:00:00Z is in the past" in text
    assert "line 40, user 'E1': id: employee id is also used at line 3" in text


def test_cooling_allows_the_same_employee_back():
    ctx = U.Context(have=[], cooling={"1050": {"until": "2026-05-01T00:00:00Z", "employee_id": "E4"}}, now=NOW)
    U.validate_batch("merged", [user("E4", "1050")], ctx, PLAN)


# ---------------------------------------------------------------- planner
def test_plan_merged_adds_updates_and_is_idempotent():
    have = [user("E1", "1001"), user("E2", "1002")]
    want = [U.canonical({"id": "E1", "features": [{"name": "dnd"}]}), user("E3", "1003")]
    plan = U.plan_users("merged", want, have, now=NOW)
    assert [(op["op"], op["id"]) for op in plan] == [("update", "E1"), ("add", "E3")]
    assert plan[0]["after"]["features"] == [{"name": "dnd"}]
    assert plan[0]["after"]["extension"] == "1001"       # merged keeps what was not given
    after = U.apply_plan_to(have, plan)
    assert U.plan_users("merged", want, after, now=NOW) == []


def test_plan_replaced_resets_unspecified_attributes():
    have = [user("E1", "1001", features=[{"name": "dnd"}], aliases=["+31201231001"])]
    plan = U.plan_users("replaced", [user("E1", "1001")], have, now=NOW)
    assert len(plan) == 1 and set(plan[0]["changes"]) == {"features", "aliases"}
    assert plan[0]["cool"] == ["+31201231001"]            # a dropped DID goes into cooling


def test_plan_overridden_deletes_leavers_and_cools_numbers():
    have = [user("E1", "1001"), user("E2", "1002", aliases=["+31201231002"])]
    plan = U.plan_users("overridden", [user("E1", "1001")], have, now=NOW, cooling_days=30)
    assert [(op["op"], op["id"]) for op in plan] == [("delete", "E2")]
    assert plan[0]["cool"] == ["1002", "+31201231002"]
    assert plan[0]["cool_until"] == "2026-03-31T12:00:00Z"


def test_plan_deleted_with_and_without_config():
    have = [user("E1", "1001"), user("E2", "1002")]
    assert [op["id"] for op in U.plan_users("deleted", [U.canonical({"id": "E2"})], have, now=NOW)] == ["E2"]
    assert [op["id"] for op in U.plan_users("deleted", [], have, now=NOW)] == ["E1", "E2"]
    assert U.plan_users("deleted", [U.canonical({"id": "E5"})], have, now=NOW) == []


def test_expired_grants_are_revoked_on_every_run():
    have = [user("E1", "1001", class_of_service_grant={"class_of_service": "international", "until": "2026-02-01T00:00:00Z"},
                 features=[{"name": "cfu", "target": "1002", "until": "2026-02-01T00:00:00Z"}, {"name": "voicemail"}]),
            user("E2", "1002", features=[{"name": "dnd", "until": "2027-01-01T00:00:00Z"}])]
    plan = U.plan_users("merged", [], have, now=NOW)
    assert [(op["op"], op["id"]) for op in plan] == [("update", "E1")]
    assert "class_of_service_grant" not in plan[0]["after"]
    assert plan[0]["after"]["features"] == [{"name": "voicemail"}]
    assert len(plan[0]["revoked"]) == 2


def test_move_changes_password_and_cools_old_extension():
    have = [user("E1", "1001")]
    plan = U.plan_users("merged", [U.canonical({"id": "E1", "extension": "2001", "site": "rtm"})], have, now=NOW)
    assert plan[0]["new_password"] is True and plan[0]["cool"] == ["1001"]
    assert "password ********" in U.describe(plan[0])


def test_describe_never_leaks_password():
    plan = U.plan_users("merged", [user("E3", "1003")], [], now=NOW)
    assert U.describe(plan[0]).startswith("add user E3 ext 1003 site ams class national")


# ---------------------------------------------------------------- HR batch
HR = """action,effective_date,employee_id,display_name,email,site,extension,aliases,class_of_service,class_of_service_grant,features
join,2026-02-20,E10,New Person,new@example.org,ams,1010,+31201231010,national,,voicemail|cfb:1011
move,2026-02-25,E1,,,rtm,2001,,,,
leave,2026-02-28,E2,,,,,,,,
change,2026-03-01,E3,,,,,,,international@2026-12-31T23:59:00Z,dnd@2026-03-10T00:00:00Z
join,2026-04-01,E11,Future Person,,ams,1011,,internal,,
"""


def test_hr_batch_to_desired_state():
    rows = U.parse_hr_csv(HR, "hr.csv")
    have = [user("E1", "1001"), user("E2", "1002"), user("E3", "1003")]
    ctx = U.Context(have=have, now=NOW)
    want, deleted, info = U.apply_hr_rows(rows, ctx, PLAN, path="hr.csv")
    by = dict((u["id"], u) for u in want)
    assert by["E10"]["features"] == [{"name": "cfb", "target": "1011"}, {"name": "voicemail"}]
    assert by["E1"]["extension"] == "2001" and by["E1"]["site"] == "rtm" and by["E1"]["name"] == "User E1"
    assert by["E3"]["class_of_service_grant"] == {"class_of_service": "international", "until": "2026-12-31T23:59:00Z"}
    assert deleted == ["E2"]
    assert [p["employee_id"] for p in info["pending"]] == ["E11"]          # future-dated waits
    plan = U.plan_users("merged", want, have, now=NOW, deleted_ids=deleted)
    assert [(op["op"], op["id"]) for op in plan] == [("delete", "E2"), ("update", "E1"), ("update", "E3"), ("add", "E10")]
    # a re-run with the applied rows recorded changes nothing
    want2, deleted2, info2 = U.apply_hr_rows(rows, U.Context(have=U.apply_plan_to(have, plan), now=NOW), PLAN,
                                             applied_keys=info["applied"])
    assert want2 == [] and deleted2 == [] and len(info2["already_applied"]) == 4


def test_hr_batch_errors_every_row_with_line_and_field():
    text = """action,effective_date,employee_id,site,extension,aliases,class_of_service,features
join,2026-02-20,E10,ams,1001,,national,
leave,2026-02-20,E99,,,,,
move,2026-02-20,E2,ams,1001,,,
hire,2026-02-20,E5,ams,1005,,national,
join,2026-13-01,E6,ams,1006,,national,
join,2026-02-20,E7,ams,1007,+3112,national,fly
"""
    have = [user("E1", "1001"), user("E2", "1002")]
    with pytest.raises(SourceErrors) as exc:
        rows = U.parse_hr_csv(text, "hr.csv")
    got = errors_of(exc)
    assert (5, "action", "unknown action 'hire' (allowed: join, move, leave, change, reissue)") in got
    assert any(e[0] == 6 and e[1] == "effective_date" for e in got)
    rows = U.parse_hr_csv(text.replace("hire", "join").replace("2026-13-01", "2026-02-01"), "hr.csv")
    with pytest.raises(SourceErrors) as exc:
        U.apply_hr_rows(rows, U.Context(have=have, now=NOW), PLAN, path="hr.csv")
    got = errors_of(exc)
    fields = set((e[0], e[1]) for e in got)
    assert (2, "extension") in fields          # joiner onto E1's extension
    assert (3, "employee_id") in fields        # leaver who does not exist
    assert (4, "extension") in fields          # mover to a taken extension
    assert (7, "aliases") in fields and (7, "features") in fields
    assert all(str(e).startswith("hr.csv line") for e in exc.value.errors)


def test_parsed_state_reads_hr_csv_and_yaml():
    parsed = U.parse_running_config(HR)
    assert parsed[0]["action"] == "join" and parsed[0]["user"]["extension"] == "1010"
    y = U.parse_running_config("users:\n  - {id: E1, extension: '1001', site: ams, class_of_service: internal}\n")
    assert y == [{"id": "E1", "extension": "1001", "site": "ams", "class_of_service": "internal"}]
