"""The organisation the campaign happens in: hosts with roles, users, addresses, SIDs."""

from __future__ import annotations

import random
from dataclasses import dataclass

AD_DOMAIN = "corp.example"  # DNS name of the AD domain; hosts are <name>.corp.example
NETBIOS = "CORP"
MAIL_DOMAIN = "aldergrove-dynamics.example"
ORG_NAME = "Aldergrove Dynamics"

FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Laura",
    "Edward",
    "Helen",
    "Jeffrey",
    "Sharon",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Anna",
    "Eric",
    "Shirley",
    "Jonathan",
    "Angela",
    "Stephen",
    "Ruth",
    "Larry",
    "Brenda",
    "Justin",
    "Pamela",
    "Scott",
    "Nicole",
    "Brandon",
    "Katherine",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Christine",
    "Gregory",
    "Emma",
    "Alexander",
    "Catherine",
    "Frank",
    "Debra",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
]
DEPARTMENTS = (
    "Engineering",
    "Engineering",
    "Engineering",
    "Programs",
    "Finance",
    "Contracts",
    "HR",
    "IT",
    "Legal",
    "Quality",
)


@dataclass(frozen=True, slots=True)
class User:
    """A domain user."""

    sam: str  # e.g. j.miller
    given: str
    surname: str
    email: str
    sid: str
    department: str
    admin_sam: str | None = None  # a separate admin account for IT staff (adm.j.miller)
    admin_sid: str | None = None

    @property
    def display(self) -> str:
        """Display name as Outlook shows it."""
        return f"{self.given} {self.surname}"


@dataclass(frozen=True, slots=True)
class Host:
    """A domain-joined Windows machine."""

    name: str  # ws-eng-07
    role: str  # dc | file | backup | ws | ws-eng
    ip: str
    owner: str | None = None  # sam of the primary user for workstations

    @property
    def fqdn(self) -> str:
        """Fully qualified name, the ``Computer`` field of its events."""
        return f"{self.name}.{AD_DOMAIN}"

    @property
    def is_server(self) -> bool:
        """Servers have no interactive user day."""
        return self.role in ("dc", "file", "backup")

    @property
    def machine_account(self) -> str:
        """The computer account name, e.g. WS-ENG-07$."""
        return self.name.upper() + "$"


@dataclass(frozen=True, slots=True)
class World:
    """The organisation: everything the noise and the campaign refer to."""

    hosts: tuple[Host, ...]
    users: tuple[User, ...]
    domain_sid: str
    egress_ip: str  # the NAT address seen by the outside world

    def host(self, name: str) -> Host:
        """Host by short name."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def user(self, sam: str) -> User:
        """User by account name (plain or admin account)."""
        for u in self.users:
            if sam in (u.sam, u.admin_sam):
                return u
        raise KeyError(sam)

    def by_role(self, *roles: str) -> list[Host]:
        """Hosts with one of the roles, in a stable order."""
        return [h for h in self.hosts if h.role in roles]

    @property
    def dc(self) -> Host:
        """The domain controller (also the internal DNS resolver)."""
        return self.by_role("dc")[0]

    @property
    def admins(self) -> list[User]:
        """IT staff with admin accounts."""
        return [u for u in self.users if u.admin_sam]

    def owner_of(self, host: Host) -> User | None:
        """Primary user of a workstation."""
        return self.user(host.owner) if host.owner else None

    def workstation_of(self, user: User) -> Host | None:
        """A user's own workstation, if any."""
        for h in self.hosts:
            if h.owner == user.sam:
                return h
        return None


def build_world(seed: int, n_hosts: int, n_users: int) -> World:
    """Make the organisation for a seed: names, roles, addresses and SIDs are all drawn here."""
    rng = random.Random(f"world:{seed}")
    domain_sid = (
        f"S-1-5-21-{rng.randrange(10**9, 4 * 10**9)}-{rng.randrange(10**9, 4 * 10**9)}-"
        f"{rng.randrange(10**9, 4 * 10**9)}"
    )
    n_admins = max(2, n_users // 25)
    users: list[User] = []
    seen: set[str] = set()
    rid = 1104
    while len(users) < n_users:
        given, surname = rng.choice(FIRST), rng.choice(LAST)
        sam = f"{given[0]}.{surname}".lower()
        if sam in seen:
            sam = f"{given}.{surname}".lower()
        if sam in seen or f"{given}.{surname}" in seen:
            continue
        seen.update((sam, f"{given}.{surname}"))
        is_admin = len(users) < n_admins
        dept = "IT" if is_admin else rng.choice(DEPARTMENTS)
        admin_sam = f"adm.{sam}" if is_admin else None
        users.append(
            User(
                sam=sam,
                given=given,
                surname=surname,
                email=f"{given}.{surname}@{MAIL_DOMAIN}".lower(),
                sid=f"{domain_sid}-{rid}",
                department=dept,
                admin_sam=admin_sam,
                admin_sid=f"{domain_sid}-{rid + 5000}" if admin_sam else None,
            )
        )
        rid += 1

    n_file = 2 if n_hosts >= 12 else 1
    hosts: list[Host] = [Host("dc-01", "dc", "10.10.1.10")]
    hosts += [Host(f"fs-{i + 1:02d}", "file", f"10.10.1.{20 + i}") for i in range(n_file)]
    hosts.append(Host("bk-01", "backup", "10.10.1.30"))
    n_ws = n_hosts - len(hosts)
    n_eng = max(1, n_ws // 3)
    # Engineers sit at engineering workstations; everyone else (admins first) at the rest.
    engineers = [u for u in users if u.department == "Engineering"]
    others = [u for u in users if u.department != "Engineering"]
    ips = rng.sample(range(20, 250), n_ws)
    for i in range(n_ws):
        eng = i < n_eng
        pool = engineers if eng else others
        owner = pool.pop(0) if pool else next(iter(others or engineers), None)
        if owner is not None and owner in others:
            others.remove(owner)
        if owner is not None and owner in engineers:
            engineers.remove(owner)
        name = f"ws-eng-{i + 1:02d}" if eng else f"ws-{i - n_eng + 1:03d}"
        hosts.append(
            Host(
                name, "ws-eng" if eng else "ws", f"10.10.20.{ips[i]}", owner.sam if owner else None
            )
        )
    return World(
        hosts=tuple(hosts), users=tuple(users), domain_sid=domain_sid, egress_ip="198.51.100.10"
    )
