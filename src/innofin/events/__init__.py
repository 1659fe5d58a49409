"""Matchmaking meetings (银企对接会): events, requests, the timetable, agendas, outcomes."""
