"""One module per lab service; `base.Service` is what the supervisor manages."""
