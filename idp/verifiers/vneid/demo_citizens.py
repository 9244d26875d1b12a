"""Made-up citizens the sandbox provider offers: valid-looking personal IDs (province code, century
and sex digit, birth year; Circular 59/2021/TT-BCA), VNeID account levels 1 and 2. Not real people."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Citizen:
    personal_id: str
    full_name: str
    birthdate: str  # ISO 8601
    gender: str  # "male" | "female"
    level: int  # VNeID account level: 1 (registered online) or 2 (checked in person with the chip ID card)

    def __repr__(self) -> str:
        return f"Citizen(level={self.level})"

    @property
    def subject(self) -> str:
        """A stable, opaque `sub` for this citizen at the sandbox (never the personal ID itself)."""
        return "sbx-" + hashlib.sha256(f"vneid-sandbox|{self.personal_id}".encode()).hexdigest()[:24]


DEMO_CITIZENS: tuple[Citizen, ...] = (
    Citizen("001090012345", "Nguyễn Văn An", "1990-03-15", "male", 2),         # Hà Nội, male, 1990
    Citizen("079185000123", "Trần Thị Bình", "1985-11-02", "female", 1),       # TP Hồ Chí Minh, female, 1985
    Citizen("048203004567", "Lê Minh Cường", "2003-07-21", "male", 1),         # Đà Nẵng, male, 2003
    Citizen("031196007890", "Phạm Thị Dung", "1996-01-30", "female", 2),       # Hải Phòng, female, 1996
    Citizen("092077001122", "Hoàng Văn Giang", "1977-09-09", "male", 2),       # Cần Thơ, male, 1977
    Citizen("040301002468", "Võ Thị Hạnh", "2001-12-24", "female", 1),          # Nghệ An, female, 2001
)
