"""Parses Prometheus text exposition from stdin with the reference Python parser
(prometheus_client) and prints the families as JSON, so Rust tests can check what a real
scraper would read. Exits non-zero (with the parser's message) on anything it rejects."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "help": family.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ],
    })
json.dump(families, sys.stdout)
