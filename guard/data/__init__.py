"""Word lists the guard's recognizers load at start-up (built by ``guard.data.build``)."""
