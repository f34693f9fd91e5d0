from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import ProfileError
from mboxed.profile import load_profile, parse_set, shipped_profiles
from mboxed.profile_schema import size_mib


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_shipped_profile_validates() -> None:
    assert set(shipped_profiles()) >= {"demo", "minimal", "workshop", "ci"}
    for name in shipped_profiles():
        assert load_profile(name).profile.version == 1


def test_extends_inherits_and_overrides() -> None:
    ci = load_profile("ci")
    assert [Path(s).stem for s in ci.sources] == ["demo", "minimal", "ci"]
    assert ci.profile.provider.memory == "4g"
    assert ci.profile.sciencebox.components.swan is False  # from minimal
    assert ci.profile.sciencebox.chart.startswith("oci://")  # from demo


def test_file_then_set_override_last(tmp_path: Path) -> None:
    extra = write(tmp_path / "extra.yaml", "provider:\n  cpus: 8\n  memory: 16g\n")
    loaded = load_profile("demo", [extra], ["provider.cpus=12", "hostname=Box.Example.org"])
    assert loaded.profile.provider.cpus == 12
    assert loaded.profile.provider.memory == "16g"
    assert loaded.profile.hostname == "box.example.org"


def test_a_profile_file_can_extend_a_shipped_one(tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.yaml", "version: 1\nextends: workshop\ngpu: true\n")
    loaded = load_profile(str(mine))
    assert loaded.profile.gpu and loaded.profile.users.generate.count == 20


def test_unknown_key_names_file_line_and_path(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "version: 1\nprovider:\n  name: kind\n  cpuz: 4\n")
    with pytest.raises(ProfileError) as info:
        load_profile(str(bad))
    assert str(info.value) == (
        f"{bad}:4: provider.cpuz: unknown key; accepted here: "
        "context, cpus, disk, driver, kubeconfig, kubernetes_version, memory, name"
    )


def test_wrong_type_from_set_names_the_flag() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("demo", overrides=["provider.cpus=lots"])
    message = str(info.value)
    assert message.startswith("--set provider.cpus=lots: provider.cpus:")
    assert "integer" in message and "'lots'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("provider.name=docker-desktop", "'minikube', 'kind' or 'existing'"),
        ("provider.memory=lots", "not a size"),
        ("provider.kubernetes_version=1.31", "use the form v1.31.0"),
        ("provider.cpus=0", "greater than or equal to 1"),
        ("hostname=not_a_host!", "not a hostname"),
        ("hostname=10.0.0.1", "is an IP address, and an ingress needs a DNS name"),
        ("tls=letsencrypt", "'local-ca' or 'none'"),
        ("users.generate.count=-1", "greater than or equal to 0"),
        ("users.generate.prefix=9bad", "should match pattern"),
        ("sciencebox.components.swan=maybe", "valid boolean"),
        ("version=2", "Input should be 1"),
        # issue 10: these slipped through
        ("provider.cpus=true", "valid integer"),
        ("users.generate.count=yes", "valid integer"),
        ("provider.memory=0g", "'0g' is out of range; use 1g to 1024g"),
        ("provider.disk=0m", "'0m' is out of range; use 1g to 65536g"),
        ("provider.memory=99999999g", "out of range"),
        ("provider.memory=8Ti", "not a size"),
        ("hostname=localhost", "names each machine itself"),
        ("hostname=box.localhost", "names each machine itself"),
        ('hostname="box.example.org\\n"', "not a hostname"),
        ('provider.kubernetes_version="v1.31.0\\n"', "use the form v1.31.0"),
        ('users.generate.prefix="student\\n"', "should match pattern"),
    ],
)
def test_bad_values_are_one_line_each(override: str, needle: str) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("demo", overrides=[override])
    assert needle in str(info.value)
    assert str(info.value).startswith(f"--set {override}: {override.split('=')[0]}:")


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "version: 1\ntls: maybe\ngpu: sometimes\ncolour: red\n")
    with pytest.raises(ProfileError) as info:
        load_profile(str(bad))
    lines = str(info.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{bad}:2", f"{bad}:3", f"{bad}:4"]


def test_a_binary_file_is_a_profile_error_not_a_crash(tmp_path: Path) -> None:
    binary = tmp_path / "extra.yaml"
    binary.write_bytes(b"\xff\xfe\x00version: 1\n")  # e.g. saved as UTF-16 by an editor
    with pytest.raises(ProfileError, match=rf"^{binary}: not a UTF-8 text file"):
        load_profile("demo", [str(binary)])


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "version: 1\nprovider:\n  cpus: [4\n")
    with pytest.raises(ProfileError, match=rf"{bad}:\d+: not valid YAML"):
        load_profile(str(bad))


def test_a_profile_must_be_a_mapping(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "- a\n- b\n")
    with pytest.raises(ProfileError, match="must be a mapping"):
        load_profile(str(bad))


def test_extends_loop_is_detected(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "version: 1\nextends: b.yaml\n")
    write(tmp_path / "b.yaml", "version: 1\nextends: a.yaml\n")
    with pytest.raises(ProfileError, match="makes a loop"):
        load_profile(str(tmp_path / "a.yaml"))


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("demoo")
    assert "unknown profile 'demoo'" in str(info.value)
    assert "demo, " in info.value.hint


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("ref", ["x" * 5000, "x" * 300 + ".yaml", "demo\x00"])
def test_a_name_the_os_cannot_look_up_is_a_profile_error(ref: str) -> None:
    # too long for a file name (ENAMETOOLONG), or with a NUL: stat() refuses it
    with pytest.raises(ProfileError, match="profile"):
        load_profile(ref)
    with pytest.raises(ProfileError):
        load_profile("demo", files=[ref])


@pytest.mark.parametrize("expr", ["nodot", "=value", "a..b=1"])
def test_malformed_set_is_refused(expr: str) -> None:
    with pytest.raises(ProfileError, match=r"expected KEY\.PATH=VALUE"):
        parse_set(expr)


def test_set_into_a_value_is_refused() -> None:
    with pytest.raises(ProfileError, match="tls is a value, not a section"):
        load_profile("demo", overrides=["tls.mode=x"])


def test_set_parses_yaml_scalars() -> None:
    assert parse_set("a.b=4") == (("a", "b"), 4)
    assert parse_set("a=true") == (("a",), True)
    assert parse_set("a=[1, 2]") == (("a",), [1, 2])
    assert parse_set("a=x: y: z")[1] == "x: y: z"


def test_raw_helm_values_pass_through_unvalidated() -> None:
    loaded = load_profile("demo", overrides=["sciencebox.values.eos.fst.replicaCount=2"])
    assert loaded.profile.sciencebox.values == {"eos": {"fst": {"replicaCount": 2}}}


def test_an_alias_bomb_in_the_helm_values_is_one_line_naming_the_file(tmp_path: Path) -> None:
    levels = [f"    l{i}: &l{i} {{a: *l{i - 1}, b: *l{i - 1}}}" for i in range(1, 40)]
    bomb = write(
        tmp_path / "bomb.yaml",
        "sciencebox:\n  values:\n    l0: &l0 {a: 1, b: 2}\n" + "\n".join(levels) + "\n",
    )
    with pytest.raises(ProfileError) as info:
        load_profile("demo", [bomb])
    # the line of the first mapping whose aliases add too much (l11, line 14)
    assert str(info.value).startswith(f"{bomb}:14: its aliases (*name) expand to over ")
    assert "\n" not in str(info.value)


def test_an_alias_bomb_from_set_names_the_flag() -> None:
    small = parse_set("sciencebox.values={a: &a [x, x], b: [*a, *a]}")[1]
    assert small == {"a": ["x", "x"], "b": [["x", "x"], ["x", "x"]]}
    levels = ", ".join(f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 40))
    bomb = f"sciencebox.values={{l0: &l0 [x, x], {levels}}}"
    with pytest.raises(ProfileError, match=r"^--set sciencebox\.values=.*: its aliases"):
        parse_set(bomb)


def test_a_second_provider_section_is_refused_not_merged(tmp_path: Path) -> None:
    text = "provider:\n  cpus: 2\ngpu: false\nprovider:\n  cpus: 8\n"
    twice = write(tmp_path / "twice.yaml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(str(twice))
    assert str(info.value) == f"{twice}:4: duplicate key 'provider'"


@pytest.mark.parametrize(("given", "normal"), [("8Gi", "8g"), ("8GiB", "8g"), ("4096Mi", "4096m")])
def test_kubernetes_units_are_sizes_too(given: str, normal: str) -> None:
    provider = load_profile("demo", overrides=[f"provider.memory={given}"]).profile.provider
    assert provider.memory == normal and size_mib(provider.memory) == size_mib(given)


def test_an_error_inside_a_set_section_names_the_flag_not_the_file() -> None:
    expr = 'provider={"cpus": "x"}'
    with pytest.raises(ProfileError) as info:
        load_profile("demo", overrides=[expr])
    assert str(info.value).startswith(f"--set {expr}: provider.cpus: ")


def test_another_release_name_is_refused_with_the_reason() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("demo", overrides=["sciencebox.release=classroom"])
    message = str(info.value)
    assert "sciencebox.release: must be 'sciencebox'" in message
    assert "sciencebox-ldap" in message and "(got 'classroom')" in message
    assert load_profile("demo").profile.sciencebox.release == "sciencebox"


def test_the_chart_is_an_oci_reference_or_a_local_chart_that_exists(tmp_path: Path) -> None:
    chart = tmp_path / "fork"
    chart.mkdir()
    write(chart / "Chart.yaml", "apiVersion: v2\nname: sciencebox\nversion: 0.0.8\n")
    packaged = tmp_path / "sciencebox-0.0.8.tgz"
    packaged.write_bytes(b"")
    for given, kept in ((str(chart), str(chart)), (str(packaged), str(packaged))):
        loaded = load_profile("demo", overrides=[f"sciencebox.chart={given}"])
        assert loaded.profile.sciencebox.chart == kept
    for missing in (tmp_path / "nothing", tmp_path, tmp_path / "fork" / "Chart.yaml"):
        with pytest.raises(ProfileError, match=r"sciencebox\.chart: use oci://"):
            load_profile("demo", overrides=[f"sciencebox.chart={missing}"])
