"""The shell text that gives a lab host its private file systems."""

from topologies.node import bind, etc_overlay, mount_script, tmpfs


def test_binds_follow_the_tmpfs_they_land_on_with_one_mkdir(tmp_path):
    mounts = [tmpfs("/run"), tmpfs("/var/lib"), etc_overlay(str(tmp_path)),
              bind("/var/lib/neutron", str(tmp_path / "neutron")), bind("/etc/octavia", str(tmp_path / "octavia"))]
    steps = mount_script(mounts, keep="/run/stacklab/lab").split(" && ")
    assert steps[:5] == [
        "mount -n --rbind /run /mnt",
        "mount -n -t tmpfs -o mode=755 tmpfs /run",
        "mkdir -p /run/stacklab/lab", "mount -n --rbind /mnt/stacklab/lab /run/stacklab/lab", "umount -n -l /mnt"]
    assert steps[5] == "mount -n -t tmpfs -o mode=755 tmpfs /var/lib"
    assert steps[6].startswith("mount -n -t overlay overlay -o lowerdir=/etc,upperdir=%s/etc-upper," % tmp_path)
    assert steps[7:] == ["mkdir -p /var/lib/neutron /etc/octavia",
                         "mount -n --bind %s/neutron /var/lib/neutron" % tmp_path,
                         "mount -n --bind %s/octavia /etc/octavia" % tmp_path]
    assert (tmp_path / "neutron").is_dir() and (tmp_path / "etc-upper").is_dir()


def test_no_binds_no_mkdir(tmp_path):
    assert "mkdir" not in mount_script([tmpfs("/var/lib")], keep="/run/stacklab/lab")


def test_a_checkout_under_tmp_stays_visible_over_the_hosts_own_tmp():
    """CI clones into /tmp: the code and its venv must still run inside a host."""
    steps = mount_script([tmpfs("/run"), tmpfs("/tmp")],
                         keep=["/run/stacklab", "/tmp/ci", "/tmp/ci/.venv"]).split(" && ")
    assert steps[5:] == ["mount -n --rbind /tmp /mnt", "mount -n -t tmpfs -o mode=755 tmpfs /tmp",
                         "mkdir -p /tmp/ci", "mount -n --rbind /mnt/ci /tmp/ci", "umount -n -l /mnt"]
    assert "/mnt" not in mount_script([tmpfs("/tmp")], keep=["/run/stacklab", "/home/me/stacklab"])
