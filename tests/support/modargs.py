"""``patch_module_args`` on every supported ansible-core: the real one (``ansible.module_utils.testing``, 2.19+), else
the same effect by hand for 2.16-2.18 (AnsibleModule reads ``basic._ANSIBLE_ARGS``)."""
import contextlib
import json

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401 pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Give the next AnsibleModule ``args`` as its ANSIBLE_MODULE_ARGS."""
        args = dict(args or {})
        args.setdefault("_ansible_remote_tmp", "/tmp")
        args.setdefault("_ansible_keep_remote_files", False)
        old = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old  # pylint: disable=protected-access


class _Captured(Exception):
    pass


def argument_spec(module):
    """The argument spec a module's ``main()`` passes to AnsibleModule (captured; the module does not run)."""
    def capture(argument_spec=None, **_kwargs):
        raise _Captured(argument_spec)

    real = module.AnsibleModule
    module.AnsibleModule = capture
    try:
        module.main()
    except _Captured as exc:
        return exc.args[0]
    finally:
        module.AnsibleModule = real
    raise AssertionError("%s.main() built no AnsibleModule" % module.__name__)
