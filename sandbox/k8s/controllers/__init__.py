"""Controllers that make the emulated cluster move: Deployments roll out, Pods become ready, HPAs clamp.

Each controller is a plain function over the store, called in order on every tick of one loop; with a single
asyncio loop and no awaits inside a tick, a tick sees and leaves a consistent store.
"""
