"""``bertgan bert predict classify|tag|qa`` (being written)."""


def register(bsub) -> None:
    pass
