"""The sandbox course: who is in it (a teacher, students, an LMS admin) and the servers that make it up."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import NamedTuple

from lti_tool.sandbox.itep import ItepEmulator
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import ToolClient
from lti_tool.sandbox.speechace import SpeechaceEmulator

COURSE_ID = "course-101"
# Links a teacher added by hand: the tool asks the teacher to choose their test on the first launch.
ACTIVITIES = (("speaking-1", "Speaking test: introduce yourself"), ("speaking-2", "Speaking test: describe a picture"))


class Person(NamedTuple):
    sub: str
    name: str
    role: str  # "Teacher", "Student" or "LMS admin"

    @property
    def edits_the_course(self) -> bool:
        return self.role != "Student"


@dataclass
class Sandbox:
    platform: PlatformEmulator
    client: ToolClient
    people: list[Person]
    course_id: str = COURSE_ID
    hand_added: tuple[tuple[str, str], ...] = ACTIVITIES
    speechace: SpeechaceEmulator | None = None
    itep: ItepEmulator | None = None
    servers: list[LiveServer] = field(default_factory=list)

    @property
    def teacher(self) -> Person:
        return next(person for person in self.people if person.role == "Teacher")

    @property
    def students(self) -> list[Person]:
        return [person for person in self.people if person.role == "Student"]

    def person(self, sub: str | None) -> Person | None:
        return next((person for person in self.people if person.sub == sub), None)

    def stop(self) -> None:
        """Stop the sandbox's servers (the LMS and the emulators)."""
        for server in reversed(self.servers):
            server.stop()
