# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source files as users really have them: spreadsheet exports in several encodings, YAML with merge keys."""
import pytest

from ansible_collections.voipops.voip.plugins.module_utils.source import SourceError, load_csv, load_yaml, parse_yaml

ROWS = u"name,site\nJosé Müller,ams\nFrançoise Ødegård,rtm\n"


@pytest.mark.parametrize("encoding, prefix", [
    ("utf-8", b""),                 # LibreOffice, "CSV UTF-8" of Excel without BOM
    ("utf-8", b"\xef\xbb\xbf"),     # Excel's "CSV UTF-8 (comma delimited)": UTF-8 with a BOM
    ("cp1252", b""),                # Excel's "CSV (comma delimited)" in a Western European Windows locale
    ("utf-16", b""),                # "Unicode text" exports carry a UTF-16 BOM (the codec writes it)
])
def test_spreadsheet_exports_read_the_same(tmp_path, encoding, prefix):
    path = tmp_path / "hr.csv"
    path.write_bytes(prefix + ROWS.replace("\n", "\r\n").encode(encoding))
    rows = load_csv(str(path), required=("name", "site"))
    assert [(r["name"], r["site"]) for r in rows] == [(u"José Müller", "ams"), (u"Françoise Ødegård", "rtm")]
    assert [r.line for r in rows] == [2, 3]


def test_a_file_in_no_known_encoding_names_the_file_line_and_what_to_do(tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(b"name,site\nok,ams\nbad \x81\x8d,ams\n")      # bytes no Windows-1252 text has
    with pytest.raises(SourceError) as err:
        load_csv(str(path))
    assert err.value.path == str(path) and err.value.line == 3 and "CSV UTF-8" in str(err.value)


def test_yaml_merge_keys_work_and_a_real_duplicate_is_still_an_error(tmp_path):
    data = parse_yaml(u"defaults: &d {site: ams, class_of_service: national}\n"
                      u"users:\n"
                      u"  - <<: *d\n"
                      u"    id: E1\n"
                      u"    class_of_service: international\n", "users.yml")
    (user,) = data["users"]
    assert dict(user) == {"site": "ams", "class_of_service": "international", "id": "E1"}
    assert user.key_lines["id"] == 4 and user.key_lines["class_of_service"] == 5
    with pytest.raises(SourceError) as err:
        parse_yaml(u"users:\n  - id: E1\n    id: E2\n", "users.yml")
    assert err.value.line == 3 and "duplicate key 'id'" in str(err.value)


def test_yaml_in_windows_1252_is_read(tmp_path):
    path = tmp_path / "estate.yml"
    path.write_bytes(u"name: Zürich\n".encode("cp1252"))
    assert load_yaml(str(path))["name"] == u"Zürich"


def test_an_unknown_column_is_reported_once_at_the_header_with_the_closest_name(tmp_path):
    from ansible_collections.voipops.voip.plugins.module_utils.users import parse_hr_csv
    from ansible_collections.voipops.voip.plugins.module_utils.source import SourceErrors
    text = (u"action,effective_date,employee_id,display_name,site,extention\n"
            + u"".join(u"join,2026-01-05,E%d,U,ams,100%d\n" % (i, i) for i in range(5)))
    with pytest.raises(SourceErrors) as err:
        parse_hr_csv(text, path="hr.csv")
    (only,) = err.value.errors
    assert (only.line, only.field) == (1, "extention") and "did you mean 'extension'" in only.message
