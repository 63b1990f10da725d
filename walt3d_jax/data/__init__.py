"""The clip-art dataset's build job (`build`), decoding (`decode`), label-exact transforms
(`transforms`) and grain input pipeline (`pipeline`)."""
