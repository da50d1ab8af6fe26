"""Deploy safety: what makes ``opsdb migrate`` on a live database safe to run and to undo.

* :mod:`~harness.deploy.lint`, :mod:`~harness.deploy.squawk`, :mod:`~harness.deploy.plpgsql_check`:
  refuse a risky migration or a broken function before it ships (``opsdb lint``).
* :mod:`~harness.deploy.deployments`, :mod:`~harness.deploy.restore_points`: record each deployment
  and the dump to go back to (``opsdb deployments``).
* :mod:`~harness.deploy.orphans`, :mod:`~harness.deploy.status`: what the database holds that no file
  defines, and where the last deployments stand (``opsdb status``, ``opsdb verify``).
* :mod:`~harness.deploy.restore_drill`: prove a dump restores to an identical database (``opsdb drill``).
"""
