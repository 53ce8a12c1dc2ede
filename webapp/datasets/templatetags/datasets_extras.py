from django import template

register = template.Library()


@register.filter
def dictget(mapping, key):
    return (mapping or {}).get(key, 0)
