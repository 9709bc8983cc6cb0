#!/usr/bin/python3
"""Renders HTML gate reports in headless Chromium and checks the pictures.

Gates the classification and retrieval examples, writes their HTML reports,
screenshots each with Debian's chromium, and checks the pixels: the page is
not blank, the failing NFR report shows its red verdict and bars, the
passing compatibility report its green verdict and blue new/old CMC curve.

usage: check_report_screenshot.py GRACEFUL_BINARY EXAMPLES_DIR
"""
import os
import subprocess
import sys
import tempfile

from PIL import Image

graceful, examples = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="graceful-report-")
os.environ["GRACEFUL_STORE"] = f"sqlite:{work}/registry.db"
RED, GREEN, BLUE = (198, 40, 40), (46, 125, 50), (21, 101, 192)


def run(*args):
    result = subprocess.run([graceful, *args], capture_output=True, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"graceful {' '.join(args)}: exit {result.returncode}: {result.stderr}")


def screenshot(html):
    png = html.replace(".html", ".png")
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    f"--user-data-dir={work}/chromium", "--window-size=1100,1400",
                    f"--screenshot={png}", f"file://{html}"],
                   capture_output=True, timeout=120, check=True)
    return Image.open(png).convert("RGB")


def count(image, colour, tolerance=12):
    return sum(1 for pixel in image.getdata()
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour)))


def main():
    run("init")
    for name, folder in [("old", "classification"), ("new_independent", "classification")]:
        run("register", "digits", "--onnx", f"{examples}/{folder}/models/{name}.onnx")
    for name in ("old", "new_bct"):
        run("register", "faces", "--onnx", f"{examples}/retrieval/models/{name}.onnx")
    nfr_html, compat_html = f"{work}/nfr.html", f"{work}/compat.html"
    run("gate", "run", "--policy", f"{examples}/classification/policy.yaml",
        "--candidate", "digits@2", "--baseline", "digits@1", "--report", nfr_html)
    run("gate", "run", "--policy", f"{examples}/retrieval/policy.yaml",
        "--candidate", "faces@2", "--baseline", "faces@1", "--report", compat_html)
    problems = []
    nfr, compat = screenshot(nfr_html), screenshot(compat_html)
    for label, image in [("nfr", nfr), ("compatibility", compat)]:
        if len(set(image.resize((64, 64)).getdata())) < 8:
            problems.append(f"{label} report renders blank")
    # The fail badges and the per-class bars are red; the flip matrix too.
    if count(nfr, RED) < 2000:
        problems.append(f"nfr report: only {count(nfr, RED)} red pixels (badges, bars)")
    if count(compat, GREEN) < 500:
        problems.append(f"compatibility report: only {count(compat, GREEN)} green pixels")
    if count(compat, BLUE) < 200:
        problems.append(f"compatibility report: no new/old CMC curve ({count(compat, BLUE)} px)")
    if problems:
        sys.exit("\n".join(problems))
    print(f"reports render: nfr {count(nfr, RED)} red px, compatibility {count(compat, GREEN)} "
          f"green px and {count(compat, BLUE)} blue px ({work})")


main()
