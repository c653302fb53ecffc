"""Bronze: the synthetic source (`generator`), and the Bronze gate and profile.

The generator's public API lives in `ecomlake.bronze.generator` (`generate`, `GeneratorOptions`);
this package imports nothing on purpose, so that `import ecomlake.bronze.validate` stays light.
"""
