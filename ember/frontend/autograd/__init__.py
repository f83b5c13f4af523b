"""Autograd, frontend side: grad modes, backward/grad, Function, anomaly mode, gradcheck,
and the VJP rule table (`rules`)."""
