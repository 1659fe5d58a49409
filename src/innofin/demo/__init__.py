"""Realistic synthetic data at several scales, deterministic by seed and labelled 示例/Demo.

`demo.service.generate_demo(engine, scale, seed)` fills a database; `demo.engine` and the
`*_engine` modules hold the pure generators; `demo.service.STEPS` is the list a later capability
appends its own generator to.
"""
