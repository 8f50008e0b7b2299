"""The three readers of untrusted files (IDX, model, image) fuzzed in a child process
that measures, for each example, how much its peak resident memory grew: never more
than the payload the file's header declares (whatever the data inflates to), and
nothing at all for a header the reader refuses. Only the documented exceptions.

Linux only: the peak is read from /proc/self/status (VmHWM) and reset between
examples by writing 5 to /proc/self/clear_refs.
"""

import os
import subprocess
import sys
import textwrap

import pytest

SLACK = 16 << 20  # the reader's own buffers (1 MiB chunks), the allocator, Python objects
EXAMPLES = int(os.environ.get("D2L_FUZZ_EXAMPLES", 30))

_COMMON = """
import atexit, gzip, io, os, re, shutil, struct, sys, tempfile, zipfile, zlib
from pathlib import Path
from hypothesis import HealthCheck, example, given, settings, strategies as st

SLACK, EXAMPLES = {slack}, {examples}
MIB = 1 << 20
FOLDER = Path(tempfile.mkdtemp(prefix="d2l_softmax-peak-"))
atexit.register(shutil.rmtree, FOLDER, True)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
sizes = st.sampled_from([0, 1, 6, 40])  # MiB of data after the header

def _kib(field):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{{field}}:\\s+(\\d+) kB", f.read(), re.M).group(1))

def peak_growth(read, allowed):
    \"\"\"Bytes the peak RSS grew while ``read()`` ran; it may only raise ``allowed``.\"\"\"
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak becomes the current size
    base = _kib("VmRSS")
    try:
        result = read()
    except allowed:
        result = None
    grew = (_kib("VmHWM") - base) * 1024
    del result
    return grew

def check(grew, declared, actual, what):
    bound = min(declared, actual) + SLACK
    assert grew <= bound, f"{{what}}: grew {{grew:,}} bytes, declared {{declared:,}}, " \\
        f"data {{actual:,}}"
    print(f"{{what}}: grew {{grew >> 20}} MiB, declared {{declared >> 20}} MiB", file=sys.stderr)
"""

_IDX = """
from d2l_softmax.io.idx import MAX_IDX_BYTES, read_idx
MEMBER = gzip.compress(bytes(MIB), compresslevel=1)  # one MiB of zeros, 1 KB

@FUZZ
@given(mib=sizes, extra=st.integers(0, 5000), gz=st.booleans(), cut=st.integers(0, 3000),
       magic_ok=st.booleans(), how=st.sampled_from(["exact", "less", "more", "random"]),
       random_dims=st.lists(st.integers(0, 2**31 - 1) | st.integers(0, 9), min_size=1,
                            max_size=3))
@example(mib=40, extra=0, gz=True, cut=0, magic_ok=True, how="exact", random_dims=[1])
@example(mib=40, extra=0, gz=False, cut=0, magic_ok=True, how="exact", random_dims=[1])
@example(mib=40, extra=9, gz=True, cut=0, magic_ok=True, how="less", random_dims=[1])
@example(mib=40, extra=0, gz=True, cut=0, magic_ok=True, how="more", random_dims=[1])
@example(mib=40, extra=0, gz=True, cut=0, magic_ok=False, how="exact", random_dims=[1])
def test(mib, extra, gz, cut, magic_ok, how, random_dims):
    actual = mib * MIB + extra
    dims = {{"exact": [actual], "less": [actual // 3], "more": [actual * 5 + 7]}}.get(how,
                                                                                 random_dims)
    ndim = len(dims)
    header = bytes([0, 0, 8, ndim] if magic_ok else [0, 0, 9, ndim]) + \\
        struct.pack(f">{{ndim}}i", *dims)
    path = FOLDER / "x-idx-ubyte"
    with open(path, "wb") as f:
        if gz:
            f.write(gzip.compress(header) + MEMBER * mib + gzip.compress(bytes(extra)))
            f.truncate(max(0, f.tell() - cut))
        else:
            f.write(header)
            f.truncate(max(0, len(header) + actual - cut))  # sparse: zeros for free
    declared = 1
    for d in dims:
        declared *= d
    declared = declared if declared <= MAX_IDX_BYTES else 0
    check(peak_growth(lambda: read_idx(path, ndim), ValueError), declared, actual,
          f"IDX {{dims}} gz={{gz}}")

test()
"""

_MODEL = """
import numpy as np
from d2l_softmax.io.checkpoint import FORMAT, MAX_PARAMS, read_model_arrays

def npy(descr, shape):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {{"descr": descr, "fortran_order": False,
                                               "shape": shape}})
    return buf.getvalue()

B = npy("<f4", (10,)) + bytes(40)
META = np.array('{{"format": "%s", "settings": {{}}}}' % FORMAT)
META = npy(META.dtype.str, ()) + META.tobytes()
ZEROS = bytes(MIB)

@FUZZ
@given(mib=sizes, extra=st.integers(0, 5000), cut=st.integers(0, 3) | st.integers(0, 3000),
       descr=st.sampled_from(["<f4", "<f4", "<f8", "|u1", "|O"]),
       how=st.sampled_from(["exact", "less", "more", "huge"]))
@example(mib=40, extra=0, cut=0, descr="<f4", how="exact")
@example(mib=40, extra=0, cut=0, descr="<f4", how="less")
@example(mib=40, extra=0, cut=0, descr="<f4", how="huge")
def test(mib, extra, cut, descr, how):
    actual = mib * MIB + extra
    itemsize = 8 if descr in ("<f8", "|O") else (1 if descr == "|u1" else 4)
    rows = {{"exact": actual // (10 * itemsize), "less": actual // (30 * itemsize),
            "more": actual // itemsize + 7, "huge": 10**6}}[how]
    path = FOLDER / "x.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("W.npy", "w", force_zip64=True) as f:
            f.write(npy(descr, (rows, 10)))
            for _ in range(mib):
                f.write(ZEROS)
            f.write(bytes(extra))
        zf.writestr("b.npy", B)
        zf.writestr("meta.npy", META)
    with open(path, "r+b") as f:
        f.truncate(max(0, os.path.getsize(path) - cut))
    count = rows * 10
    declared = count * itemsize if descr == "<f4" and count <= MAX_PARAMS else 0
    check(peak_growth(lambda: read_model_arrays(path), ValueError), declared, actual,
          f"model W {{descr}} ({{rows}}, 10), cut {{cut}}")

test()
"""

_IMAGE = """
from d2l_softmax.io.images import MAX_IMAGE_SIDE, read_image

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

CHANNELS = {{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}}
PER_PIXEL = {per_pixel}

@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
@given(width=st.integers(1, 1500) | st.integers(7000, 9000) | st.integers(70000, 2**20),
       height=st.integers(1, 1000),
       colour=st.sampled_from(sorted(CHANNELS)), depth16=st.booleans(),
       how=st.sampled_from(["exact", "less", "more"]), cut=st.integers(0, 2000))
@example(width=4000, height=3000, colour=4, depth16=False, how="exact", cut=0)
@example(width=4000, height=3000, colour=0, depth16=True, how="exact", cut=0)
@example(width=2000, height=2000, colour=3, depth16=False, how="more", cut=0)
@example(width=2**20, height=3000, colour=0, depth16=False, how="less", cut=0)
@example(width=8192, height=1000, colour=0, depth16=True, how="exact", cut=0)
@example(width=1, height=8192, colour=0, depth16=False, how="exact", cut=0)
@example(width=1, height=2**22, colour=0, depth16=False, how="exact", cut=0)
def test(width, height, colour, depth16, how, cut):
    depth = 16 if depth16 and colour != 3 else 8
    row = width * CHANNELS[colour] * depth // 8 + 1
    raw = {{"exact": row * height, "less": row * height // 3, "more": row * height * 3}}[how]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    c = zlib.compressobj(1)
    idat = b"".join(c.compress(bytes(min(MIB, raw - i))) for i in range(0, raw, MIB)) + c.flush()
    data = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", ihdr)
            + (chunk(b"PLTE", bytes(range(256)) * 3) if colour == 3 else b"")
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    path = FOLDER / "x.png"
    path.write_bytes(data[:len(data) - cut])
    pixels = width * height if max(width, height) <= MAX_IMAGE_SIDE else 0
    check(peak_growth(lambda: read_image(path), ValueError), PER_PIXEL * pixels, 1 << 62,
          f"PNG {{width}}x{{height}} colour {{colour}} depth {{depth}} {{how}}")

test()
"""

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs"
)


def _fuzz_in_a_child(body: str, **extra) -> str:
    script = textwrap.dedent(_COMMON.format(slack=SLACK, examples=EXAMPLES)) + body.format(**extra)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-5000:]
    return run.stderr


def test_the_idx_reader_takes_no_more_memory_than_the_header_declares():
    """Random header fields and sizes, payloads up to 40 MiB of inflated zeros, gzip
    members cut anywhere: memory follows min(declared, present), never the inflated size."""
    _fuzz_in_a_child(_IDX)


def test_the_model_reader_takes_no_more_memory_than_w_declares():
    _fuzz_in_a_child(_MODEL)


def test_the_image_reader_takes_memory_in_proportion_to_the_declared_pixels():
    """Decoding needs the decoded image plus its grey float32 copy: at most 13 bytes per
    pixel the header declares, none for an image wider or taller than the limit (a long
    thin one within the limit on pixels would take 30)."""
    _fuzz_in_a_child(_IMAGE, per_pixel=13)
