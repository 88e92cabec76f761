"""Media stage: text inside images and video keyframes (OCR), and branding marks (logos).

Pure functions and small classes; the scan pipeline wires them in. See docs/ocr.md.
"""
