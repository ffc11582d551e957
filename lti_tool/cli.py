"""``lti-tool``: the admin's command line (click comes with Flask)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

import alembic.util
import click
import sqlalchemy as sa

from lti_tool import __version__
from lti_tool import keys as tool_keys
from lti_tool import migrate
from lti_tool import serving
from lti_tool.admin import cli as admin_cli
from lti_tool.admin import privacy_cli
from lti_tool.admin import provider_cli
from lti_tool.admin import registrations_cli
from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.config import describe_settings
from lti_tool.config import load_settings
from lti_tool.config import startup_warnings
from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.http import quiet_url_logging
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.maintenance import housekeeping
from lti_tool.maintenance import passback_worker
from lti_tool.maintenance import run_housekeeping
from lti_tool.maintenance import start_background
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ToolKey
from lti_tool.services import Services
from lti_tool.telemetry import logs
from lti_tool.telemetry.schema import first_line

log = logging.getLogger(__name__)

SANDBOX_MISSING = ("the sandbox (emulated LMS and test providers) is not installed: it is a separate distribution, "
                   "lti-tool-sandbox, not part of a production install. Install the wheel `make dist` builds next "
                   "to lti-tool's (`pip install dist/lti_tool_sandbox-*.whl`), or `pip install 'lti-tool[sandbox]'` "
                   "from an index that has it; or run `make demo` in a checkout.")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _database() -> Database:
    return Database(_settings().database_url)


def initialise(database: Database) -> ToolKey:
    """Create or upgrade the schema and make sure a signing key exists. Safe to run again."""
    migrate.upgrade(database.engine)
    with database.session() as session:
        return tool_keys.ensure_key(session)


class ToolCommands(provider_cli.ProviderCommands):
    """Commands whose expected failures are one line for the admin, not a traceback (and each provider's
    ``<provider>-account`` group)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        except sa.exc.OperationalError as exc:
            raise click.ClickException(f"cannot reach the database: {first_line(exc)}. Check LTI_TOOL_DATABASE_URL "
                                       "and that the database server runs (`lti-tool doctor` checks it all).") from exc
        except alembic.util.CommandError as exc:  # e.g. a database migrated by a newer version of the tool
            raise click.ClickException(f"the database's schema cannot be migrated: {exc}. A database at a revision "
                                       "this version does not know was upgraded by a newer version: install "
                                       "that one.") from exc


@click.group(cls=ToolCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="lti-tool")
def main() -> None:
    """Speaking-test LTI 1.3 tool. Configure it with LTI_TOOL_* environment variables (`lti-tool config`)."""
    if not logging.getLogger().handlers:
        logging.getLogger().setLevel(logging.INFO)
    # Read before the settings (which may not parse): commands log from the start in the format asked for.
    logs.install(os.environ.get("LTI_TOOL_LOG_FORMAT", "text"))
    quiet_url_logging()


@main.command()
def init() -> None:
    """Create or upgrade the database and generate the tool's first key."""
    key = initialise(_database())
    click.echo(f"Database ready; signing key {key.kid}.")


@main.command()
@click.option("--network", is_flag=True, help="Also fetch the tool's published keys at its public URL and each "
                                              "active registration's key set.")
def doctor(network: bool) -> None:
    """Check the settings, the database, the keys and the worker; one line each: ok, warn, or fail with what to do.

    Exits 1 if any check fails.
    """
    from lti_tool.operations.doctor import FAIL
    from lti_tool.operations.doctor import run_doctor

    failed = False
    for check in run_doctor(network=network):
        click.echo(check.line())
        failed = failed or check.status == FAIL
    if failed:
        sys.exit(1)


@main.command()
def config() -> None:
    """List every LTI_TOOL_* environment variable with its default."""
    click.echo(describe_settings())


@main.command()
@click.option("--bind", envvar="LTI_TOOL_SERVE_BIND", default=None, show_envvar=True,
              help=f"Address to listen on, host:port or unix:/path  [default: {serving.DEFAULT_BIND}]")
@click.option("--host", default=None, help="Interface to listen on (with --port, instead of --bind).")
@click.option("--port", default=None, type=int, help="Port to listen on (with --host, instead of --bind).")
@click.option("--workers", envvar="LTI_TOOL_SERVE_WORKERS", default=serving.DEFAULT_WORKERS, show_default=True,
              show_envvar=True, type=click.IntRange(min=1), help="Web worker processes.")
@click.option("--threads", envvar="LTI_TOOL_SERVE_THREADS", default=serving.DEFAULT_THREADS, show_default=True,
              show_envvar=True, type=click.IntRange(min=1), help="Threads per web worker.")
@click.option("--timeout", envvar="LTI_TOOL_SERVE_TIMEOUT", default=serving.DEFAULT_TIMEOUT_SECONDS,
              show_default=True, show_envvar=True, type=click.IntRange(min=1),
              help="Seconds before a silent web worker is restarted.")
@click.option("--worker/--no-worker", "passback_worker", envvar="LTI_TOOL_SERVE_PASSBACK_WORKER", default=True,
              show_default=True, show_envvar=True,
              help="Run one passback worker beside the web server (--no-worker when `lti-tool worker` runs apart).")
def serve(bind: str | None, host: str | None, port: int | None, workers: int, threads: int, timeout: int,
          passback_worker: bool) -> None:
    """Run the tool on gunicorn, with the passback worker beside it (one, whatever the number of web workers).

    Creates or upgrades the database first, as `lti-tool init` does. Stops on Ctrl+C or SIGTERM.
    """
    from lti_tool.app import create_app

    settings = _settings()
    options = serving.ServeOptions(bind=_bind_address(bind, host, port), workers=workers, threads=threads,
                                   timeout=timeout, passback_worker=passback_worker, log_format=settings.log_format)
    database = Database(settings.database_url)
    initialise(database)
    database.engine.dispose()  # the web workers fork after this: none may inherit the master's connections
    serving.serve(lambda: create_app(settings), options,
                  on_ready=lambda: log.info("lti-tool serving %s (listening on %s, %s workers x %s threads)",
                                            settings.base_url, options.bind, workers, threads))


def _bind_address(bind: str | None, host: str | None, port: int | None) -> str:
    if bind and (host or port):
        if click.get_current_context().get_parameter_source("bind") != click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError("give --bind, or --host and --port, not both")
        bind = None  # options on the command line win over LTI_TOOL_SERVE_BIND
    if bind:
        return bind
    default_host, default_port = serving.DEFAULT_BIND.rsplit(":", 1)
    return f"{host or default_host}:{port or default_port}"


@main.command()
@click.option("--port", default=5000, show_default=True, type=int, help="Port of the tool.")
@click.option("--sandbox-port", default=5001, show_default=True, type=int, help="Port of the sandbox LMS.")
def demo(port: int, sandbox_port: int) -> None:
    """Run the tool with a sandbox LMS and stand-ins for the test providers: click through the whole flow.

    Development only (LTI_TOOL_ENV=development); `make demo` sets it. Uses the SQLite file in the data directory.
    """
    from dataclasses import replace

    try:
        from lti_tool.sandbox.demo import require_development
        from lti_tool.sandbox.demo import start_sandbox
    except ImportError as exc:
        raise click.ClickException(SANDBOX_MISSING) from exc

    settings = _settings()
    try:
        require_development(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if "LTI_TOOL_BASE_URL" not in os.environ:
        settings = replace(settings, base_url=f"http://127.0.0.1:{port}")

    def start(database: Database) -> str:
        server, _sandbox = start_sandbox(settings, database, sandbox_port)
        return f"Sandbox LMS: open {server.url}/course  (tool: {settings.base_url}). Ctrl+C stops both."

    _serve(settings, "127.0.0.1", port, start)


def _serve(settings: Settings, host: str, port: int, on_start: str | Callable[[Database], str]) -> None:
    """Serve the demo on Werkzeug's development server with a background worker thread until Ctrl+C."""
    from werkzeug.serving import make_server

    from lti_tool.app import create_app

    app = create_app(settings)
    services: Services = app.extensions["lti_tool.services"]
    initialise(services.database)
    stop = threading.Event()
    services.passback = start_background(services.database, settings, stop)
    server = make_server(host, port, app, threaded=True)
    click.echo(on_start(services.database) if callable(on_start) else on_start)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        services.passback.wake()
        server.shutdown()


@main.command()
@click.option("--once", is_flag=True, help="Run one round of each kind of work and exit.")
def worker(once: bool) -> None:
    """Send scores to LMS gradebooks (the outbox) and purge what has expired. Run as many as you like."""
    settings = _settings()
    # Workers log one line per score at INFO: let LTI_TOOL_LOG_LEVEL quiet them, as it does the web app.
    logging.getLogger().setLevel(settings.log_level.upper())
    logging.getLogger("lti_tool").setLevel(settings.log_level.upper())
    for warning in startup_warnings(settings):
        log.warning("%s", warning)
    database = Database(settings.database_url)
    passback = passback_worker(database, settings)
    if once:
        click.echo(f"passback: {passback.run_once()}; housekeeping: {housekeeping(database, settings)}")
        passback.heartbeat.beat()
        return
    stop = threading.Event()

    def stop_on_sigterm(*_: object) -> None:
        stop.set()
        passback.wake()

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    threading.Thread(target=run_housekeeping, args=(database, stop, settings), name="housekeeping", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        passback.run_forever(stop)


@main.command()
@click.option("--issuer", required=True, help="Platform issuer (iss), e.g. https://moodle.school.org.")
@click.option("--client-id", required=True, help="The client_id the platform gave the tool.")
@click.option("--auth-login-url", required=True, help="Platform OIDC authorization endpoint.")
@click.option("--auth-token-url", required=True, help="Platform OAuth2 token endpoint.")
@click.option("--key-set-url", required=True, help="Platform public keys (JWKS) URL.")
@click.option("--audience", default=None, help="Audience for token requests, if not the token URL.")
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Deployment id; repeat for several.")
@click.option("--name", default=None, help="A name for admins.")
def register(issuer: str, client_id: str, auth_login_url: str, auth_token_url: str, key_set_url: str,
             audience: str | None, deployment_ids: tuple[str, ...], name: str | None) -> None:
    """Register a platform by hand (Moodle manual configuration, Canvas developer key)."""
    details = PlatformDetails(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
                              auth_token_url=auth_token_url, key_set_url=key_set_url, auth_audience=audience,
                              name=name)
    try:
        with _database().session() as session:
            registration = register_platform(session, details, "manual", list(deployment_ids), approve=True)
            click.echo(f"Registered {registration.issuer} client_id={registration.client_id} "
                       f"(registration {registration.id}, login URL /lti/login/{registration.uuid}).")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def deployments() -> None:
    """List, approve or disable deployments."""


@deployments.command("list")
def deployments_list() -> None:
    """Every deployment with its platform and status."""
    with _database().session() as session:
        rows = session.execute(sa.select(LtiDeployment, LtiRegistration).join(LtiRegistration)
                               .order_by(LtiDeployment.id))
        for deployment, registration in rows:
            click.echo(f"{deployment.id}\t{deployment.status}\t{registration.issuer}\t{registration.client_id}\t"
                       f"{deployment.deployment_id}")


def _set_deployment_status(deployment_pk: int, status: DeploymentStatus) -> None:
    with _database().session() as session:
        deployment = session.get(LtiDeployment, deployment_pk)
        if deployment is None:
            raise click.ClickException(f"no deployment {deployment_pk} (see `lti-tool deployments list`)")
        deployment.status = status.value
        deployment.datetime_status_changed = utcnow()
    click.echo(f"Deployment {deployment_pk} is now {status.value}.")


@deployments.command("approve")
@click.argument("deployment_pk", type=int)
def deployments_approve(deployment_pk: int) -> None:
    """Let launches through deployment DEPLOYMENT_PK (the number from `list`)."""
    _set_deployment_status(deployment_pk, DeploymentStatus.ACTIVE)


@deployments.command("disable")
@click.argument("deployment_pk", type=int)
def deployments_disable(deployment_pk: int) -> None:
    """Refuse launches through deployment DEPLOYMENT_PK."""
    _set_deployment_status(deployment_pk, DeploymentStatus.DISABLED)


@main.group()
def keys() -> None:
    """The tool's signing keys."""


@keys.command("rotate")
@click.option("--overlap-days", type=int, default=None, help="Keep the old key published this long "
                                                               "(default LTI_TOOL_KEY_OVERLAP_DAYS).")
def keys_rotate(overlap_days: int | None) -> None:
    """Start signing with a new key; keep the old one published for the overlap period."""
    days = overlap_days if overlap_days is not None else _settings().key_overlap_days
    with _database().session() as session:
        key = tool_keys.rotate_keys(session, dt.timedelta(days=days))
        click.echo(f"New signing key {key.kid}; previous keys stay published for {days} days.")


@keys.command("list")
def keys_list() -> None:
    """Keys with their state (no private material is printed)."""
    with _database().session() as session:
        for key in session.scalars(sa.select(ToolKey).order_by(ToolKey.id)):
            state = "signing" if key.is_active else f"published until {key.publish_until:%Y-%m-%d %H:%M} UTC"
            click.echo(f"{key.kid}\t{state}\tcreated {key.datetime_created:%Y-%m-%d}")


@main.group()
def assessment() -> None:
    """Tests the school can use (each provider's assessments: `assessment add --help` lists their options)."""


assessment.add_command(provider_cli.assessment_add)


@assessment.command("list")
def assessment_list() -> None:
    """Assessments, with their keys masked."""
    from lti_tool.masking import masked
    from lti_tool.models import Assessment

    with _database().session() as session:
        for row in session.scalars(sa.select(Assessment).order_by(Assessment.id)):
            click.echo(f"{row.id}\t{row.provider}\t{row.title}\tkey {masked(row.secret)}\t"
                       f"{'active' if row.is_active else 'inactive'}")


@main.group()
def activity() -> None:
    """Speaking tests placed in courses (teachers normally create them from the LMS)."""


@activity.command("add")
@click.option("--assessment", "assessment_id", type=int, required=True, help="Assessment number (`assessment list`).")
@click.option("--title", required=True)
@click.option("--max-points", type=float, default=100.0, show_default=True)
@click.option("--component", default="overall", show_default=True, help="Score that goes to the gradebook.")
@click.option("--policy", type=click.Choice(["latest", "best"]), default="latest", show_default=True)
def activity_add(assessment_id: int, title: str, max_points: float, component: str, policy: str) -> None:
    """Create an activity; put the printed id in the LMS link's custom parameters as activity=<id>."""
    from lti_tool.activities import create_activity
    from lti_tool.models import Assessment

    with _database().session() as session:
        chosen = session.get(Assessment, assessment_id)
        if chosen is None:
            raise click.ClickException(f"no assessment {assessment_id} (see `lti-tool assessment list`)")
        try:
            created = create_activity(session, chosen, title, max_points, component, policy)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Activity {created.public_id}: custom parameter activity={created.public_id}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    migrate.upgrade(_database().engine)
    click.echo("Database schema is up to date.")


main.add_command(admin_cli.admin)


main.add_command(registrations_cli.registrations)
main.add_command(privacy_cli.privacy)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
