import tailored


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(tailored) if not name.startswith("_")}
    modules = {name for name, value in vars(tailored).items() if type(value).__name__ == "module"}
    assert set(tailored.__all__) - {"__version__"} == public - modules
    assert tailored.__all__ == sorted(tailored.__all__, key=str.lower) or tailored.__all__ == sorted(tailored.__all__)
