"""The desktop's link to its agents: pairing, status, uploads, following events, pushing
suppressions and steering the fleet. Qt-free; everything that talks to an agent is here, and it
reaches agents only through ``mailfleet.agent.client``."""
