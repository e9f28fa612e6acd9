"""Kamailio RPC result parsing (shapes as Kamailio 5.6 returns them)."""
from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio as K

UL_DUMP = {"Domains": [{"Domain": {"Domain": "location", "Size": 1024, "AoRs": [
    {"Info": {"AoR": "1001", "HashID": 1, "Contacts": [
        {"Contact": {"Address": "sip:1001@127.0.0.1:40001", "Expires": 3581, "Q": -1, "Call-ID": "a", "CSeq": 2,
                     "User-Agent": "Yealink SIP-T54W 96.86.0.110", "Received": "[not set]", "Socket": "udp:127.0.0.1:5060"}},
        {"Contact": {"Address": "sip:1001@127.0.0.1:40009", "Expires": "deleted", "Call-ID": "b", "CSeq": 3,
                     "User-Agent": "Yealink SIP-T54W 96.86.0.100"}}]}},
    {"Info": {"AoR": "1002", "HashID": 2, "Contacts": [
        {"Contact": {"Address": "sip:1002@127.0.0.1:40002", "Expires": "deleted", "Call-ID": "c", "CSeq": 9,
                     "User-Agent": "PolycomVVX-VVX_450-UA/6.4.6.2410"}}]}}],
    "Stats": {"Records": 2, "Max-Slots": 1}}}]}

DISPATCHER = {"NRSETS": 1, "RECORDS": [{"SET": {"ID": 1, "TARGETS": [
    {"DEST": {"URI": "sip:127.0.0.1:5080", "FLAGS": "AP", "PRIORITY": 10,
              "ATTRS": {"BODY": "duid=mgw1", "DUID": "mgw1"}, "LATENCY": {"AVG": 1.5, "TIMEOUT": 0}}},
    {"DEST": {"URI": "sip:127.0.0.1:5082", "FLAGS": "IP", "PRIORITY": 5,
              "ATTRS": {"BODY": "duid=mgw2", "DUID": "mgw2"}, "LATENCY": {"AVG": 0, "TIMEOUT": 7}}}]}}]}


def test_unregistered_contacts_awaiting_purge_are_not_registrations():
    live = K.parse_ul_dump(UL_DUMP)
    assert [(c["aor"], c["contact"]) for c in live] == [("1001", "sip:1001@127.0.0.1:40001")]
    assert live[0]["user_agent"] == "Yealink SIP-T54W 96.86.0.110" and live[0]["expires"] == 3581
    everything = K.parse_ul_dump(UL_DUMP, include_deleted=True)
    assert len(everything) == 3 and {c["aor"] for c in everything} == {"1001", "1002"}


def test_dispatcher_states_from_flags():
    gws = K.parse_dispatcher_list(DISPATCHER)
    assert [(g["duid"], g["state"], g["probing"]) for g in gws] == [("mgw1", "active", True), ("mgw2", "inactive", True)]
    assert gws[1]["latency_timeouts"] == 7 and gws[0]["setid"] == 1


def test_key_statistics_are_numbers():
    stats = K.parse_stats({"core.rcv_requests": "12", "shmem.free_size": "640", "dispatcher.foo": "3", "tcp.other": "1"})
    assert stats == {"core.rcv_requests": 12, "shmem.free_size": 640, "dispatcher.foo": 3}


# dlg.list as the lab's Kamailio 5.6 answered it: a confirmed call, a call being set up, one that just ended
DLG_LIST = [
    {"h_entry": 1829, "h_id": 10610, "ref": 2, "call-id": "577139475-4737a5e0", "from_uri": "sip:1001@127.0.0.1:16315",
     "to_uri": "sip:1002@127.0.0.1:16315", "state": 4, "start_ts": 1796664085, "init_ts": 1796664085, "end_ts": 0,
     "caller": {"tag": "577139476", "contact": "sip:1001@127.0.0.1:42991", "cseq": "2", "route_set": "",
                "socket": "udp:127.0.0.1:16315"},
     "callee": {"tag": "ad4f3cbc5", "contact": "sip:1002@127.0.0.1:55211", "cseq": "0", "route_set": "",
                "socket": "udp:127.0.0.1:16315"}, "profiles": [], "variables": []},
    {"call-id": "ringing-1", "from_uri": "sip:1003@voip.lab", "to_uri": "sip:1004@voip.lab", "state": 2,
     "start_ts": 0, "init_ts": 1796664090, "caller": {"contact": "sip:1003@127.0.0.1:40003"},
     "callee": {"contact": ""}},
    {"call-id": "ended-1", "from_uri": "sip:1001@voip.lab", "to_uri": "sip:1004@voip.lab", "state": 5,
     "caller": {"contact": "sip:1001@127.0.0.1:42991"}, "callee": {"contact": "sip:1004@127.0.0.1:40004"}},
]


def test_dialogs_in_progress_with_each_party_s_contact():
    calls = K.parse_dlg_list(DLG_LIST)
    assert [(c["call_id"], c["state"]) for c in calls] == [("577139475-4737a5e0", "confirmed"), ("ringing-1", "early")]
    assert calls[0]["caller"] == {"aor": "sip:1001@127.0.0.1:16315", "contact": "sip:1001@127.0.0.1:42991"}
    assert calls[0]["callee"]["contact"] == "sip:1002@127.0.0.1:55211" and calls[0]["start"] == 1796664085
    assert calls[1]["callee"]["contact"] is None and calls[1]["start"] == 1796664090
    assert K.parse_dlg_list([]) == [] and K.parse_dlg_list(None) == []


def test_a_kamailio_without_the_dialog_module_is_named_as_such():
    class Session(object):
        def post(self, url, **_kw):
            class R(object):
                status_code = 500

                def json(self):
                    return {"jsonrpc": "2.0", "error": {"code": 500, "message": "Method Not Found"}, "id": 1}
            return R()

    rpc = K.KamailioRPC("http://127.0.0.1:1/RPC", session=Session())
    try:
        rpc.active_calls()
        raise AssertionError("no error")
    except K.KamailioError as exc:
        assert "does not track calls: load the dialog module" in str(exc) and exc.method == "dlg.list"
